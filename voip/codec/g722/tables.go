package g722

// Tables of G.722 §3 and §4 (the names follow the Recommendation's block
// descriptions).

// q6 holds the decision levels of the 6-bit lower-band quantiser (Table
// 6/G.722), scaled as in block QUANTL: the level compared with |EL| is
// (q6[i] * DETL) >> 12.
var q6 = [32]int32{
	0, 35, 72, 110, 150, 190, 233, 276,
	323, 370, 422, 473, 530, 587, 650, 714,
	786, 858, 940, 1023, 1121, 1219, 1339, 1458,
	1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
}

// iln and ilp map the quantiser interval found by QUANTL to the 6-bit code
// for a negative and a non-negative difference signal.
var iln = [32]int32{
	0, 63, 62, 31, 30, 29, 28, 27,
	26, 25, 24, 23, 22, 21, 20, 19,
	18, 17, 16, 15, 14, 13, 12, 11,
	10, 9, 8, 7, 6, 5, 4, 0,
}

var ilp = [32]int32{
	0, 61, 60, 59, 58, 57, 56, 55,
	54, 53, 52, 51, 50, 49, 48, 47,
	46, 45, 44, 43, 42, 41, 40, 39,
	38, 37, 36, 35, 34, 33, 32, 0,
}

// wl is the lower-band log scale factor multiplier (Table 8/G.722),
// indexed through rl42.
var wl = [8]int32{-60, -30, 58, 172, 334, 538, 1198, 3042}

// rl42 maps a 4-bit lower-band code to the index of its magnitude in wl.
var rl42 = [16]int32{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}

// ilb is the inverse log base 2 table of blocks SCALEL and SCALEH.
var ilb = [32]int32{
	2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383,
	2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
	2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371,
	3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
}

// qm4, qm5 and qm6 are the outputs of the lower-band inverse quantisers
// for 4-, 5- and 6-bit codes (Table 7/G.722), scaled by 8.
var qm4 = [16]int32{
	0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
	20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
}

var qm5 = [32]int32{
	-280, -280, -23352, -17560, -14120, -11664, -9752, -8184,
	-6864, -5712, -4696, -3784, -2960, -2208, -1520, -880,
	23352, 17560, 14120, 11664, 9752, 8184, 6864, 5712,
	4696, 3784, 2960, 2208, 1520, 880, 280, -280,
}

var qm6 = [64]int32{
	-136, -136, -136, -136, -24808, -21904, -19008, -16704,
	-14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
	-7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
	-3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
	24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
	10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
	4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
	1688, 1360, 1040, 728, 432, 136, -432, -136,
}

// Higher band (Tables 9 and 10/G.722): the 2-bit codes for a negative and
// a non-negative difference, the inverse quantiser, the log scale factor
// multiplier and the code-to-magnitude map.
var (
	ihn = [3]int32{0, 1, 0}
	ihp = [3]int32{0, 3, 2}
	qm2 = [4]int32{-7408, -1616, 7408, 1616}
	wh  = [3]int32{0, -214, 798}
	rh2 = [4]int32{2, 1, 2, 1}
)

// qmf holds the transmit and receive QMF coefficients (Table 4/G.722),
// the first half of the symmetric 24-tap filter, scaled by 2^13.
var qmf = [12]int32{3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11}
