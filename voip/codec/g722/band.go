package g722

// band is the adaptive predictor and scale factor state of one sub-band
// (G.722 §3.6-§3.8 and §4.4-§4.5), the same blocks for both bands; the
// names of the fields are the Recommendation's.
type band struct {
	s  int32 // SL/SH: the predictor's estimate of the next sample
	sp int32 // SPL/SPH: the pole section's part of s
	sz int32 // SZL/SZH: the zero section's part of s

	nb  int32 // NBL/NBH: the log scale factor
	det int32 // DETL/DETH: the quantiser scale factor

	r  [3]int32 // RLT/RH: reconstructed signal, now and two samples back
	p  [3]int32 // PLT/PH: partially reconstructed signal, likewise
	a  [3]int32 // AL/AH: pole predictor coefficients (1 and 2 used)
	ap [3]int32 // APL/APH: their next values
	d  [7]int32 // DLT/DH: quantised difference signal, now and six back
	b  [7]int32 // BL/BH: zero predictor coefficients (1 to 6 used)
	bp [7]int32 // BPL/BPH: their next values
}

// reset puts b in the Recommendation's initial state (§6.2.1.1): all zero
// but the scale factor, 32 in the lower band and 8 in the higher.
func (b *band) reset(lower bool) {
	*b = band{det: 8}
	if lower {
		b.det = 32
	}
}

// sat limits x to 16 bits, as the Recommendation's arithmetic does.
func sat(x int32) int32 {
	if x > 32767 {
		return 32767
	}
	if x < -32768 {
		return -32768
	}
	return x
}

// mul is the Recommendation's 16 x 16 bit multiply, (a * b) >> 15.
func mul(a, b int32) int32 { return (a * b) >> 15 }

// sign is 0 for a non-negative 16-bit value and -1 for a negative one
// (the Recommendation's SG = X >> 15).
func sign(x int32) int32 { return x >> 15 }

// adapt runs blocks RECONS, PARREC, UPPOL2, UPPOL1, UPZERO, DELAYA,
// FILTEP, FILTEZ and PREDIC (§3.6, block 4L/4H) with the quantised
// difference dx, leaving the next estimate in b.s.
func (b *band) adapt(dx int32) {
	// RECONS, PARREC
	b.d[0] = dx
	b.r[0] = sat(b.s + dx)
	b.p[0] = sat(b.sz + dx)

	// UPPOL2
	sg0, sg1, sg2 := sign(b.p[0]), sign(b.p[1]), sign(b.p[2])
	wd1 := sat(b.a[1] * 4)
	wd2 := wd1
	if sg0 == sg1 {
		wd2 = sat(-wd1)
	}
	wd2 >>= 7
	wd3 := int32(-128)
	if sg0 == sg2 {
		wd3 = 128
	}
	ap2 := sat(sat(wd2+wd3) + mul(b.a[2], 32512))
	b.ap[2] = min(max(ap2, -12288), 12288)

	// UPPOL1
	wd1 = -192
	if sg0 == sg1 {
		wd1 = 192
	}
	ap1 := sat(wd1 + mul(b.a[1], 32640))
	lim := sat(15360 - b.ap[2])
	b.ap[1] = min(max(ap1, -lim), lim)

	// UPZERO
	step := int32(128)
	if dx == 0 {
		step = 0
	}
	sgd := sign(dx)
	for i := 1; i < 7; i++ {
		w := -step
		if sign(b.d[i]) == sgd {
			w = step
		}
		b.bp[i] = sat(w + mul(b.b[i], 32640))
	}

	// DELAYA
	for i := 6; i > 0; i-- {
		b.d[i] = b.d[i-1]
		b.b[i] = b.bp[i]
	}
	for i := 2; i > 0; i-- {
		b.r[i] = b.r[i-1]
		b.p[i] = b.p[i-1]
		b.a[i] = b.ap[i]
	}

	// FILTEP
	b.sp = sat(mul(b.a[1], sat(b.r[1]+b.r[1])) + mul(b.a[2], sat(b.r[2]+b.r[2])))

	// FILTEZ
	var sz int32
	for i := 6; i > 0; i-- {
		sz = sat(sz + mul(b.b[i], sat(b.d[i]+b.d[i])))
	}
	b.sz = sz

	// PREDIC
	b.s = sat(b.sp + b.sz)
}

// scale runs LOGSCL/LOGSCH and SCALEL/SCALEH (blocks 3L, 3H): the log
// scale factor leaks by 127/128, gains w and is limited to max; the
// quantiser scale factor follows it. shift is 8 in the lower band and 10
// in the higher.
func (b *band) scale(w, maxNB, shift int32) {
	nb := (b.nb*127)>>7 + w
	b.nb = min(max(nb, 0), maxNB)
	wd1 := (b.nb >> 6) & 31
	wd2 := shift - (b.nb >> 11)
	var wd3 int32
	if wd2 < 0 {
		wd3 = ilb[wd1] << -wd2
	} else {
		wd3 = ilb[wd1] >> wd2
	}
	b.det = wd3 << 2
}

// encodeLow codes one lower-band sample xl (15 bits) and returns its
// 6-bit code (blocks 1L to 4L).
func (b *band) encodeLow(xl int32) int32 {
	// SUBTRA
	el := sat(xl - b.s)
	// QUANTL
	wd := el
	if el < 0 {
		wd = -(el + 1)
	}
	i := int32(1)
	for ; i < 30; i++ {
		if wd < (q6[i]*b.det)>>12 {
			break
		}
	}
	il := ilp[i]
	if el < 0 {
		il = iln[i]
	}
	b.updateLow(il >> 2)
	return il
}

// updateLow runs INVQAL, LOGSCL, SCALEL and the adaptation with the four
// most significant bits ril of a lower-band code: encoder and decoder
// both adapt on these, whatever the mode.
func (b *band) updateLow(ril int32) {
	dl := mul(b.det, qm4[ril])
	b.scale(wl[rl42[ril]], 18432, 8)
	b.adapt(dl)
}

// decodeLow decodes a lower-band code il (6 bits; the mode decides how
// many of them count) and returns the reconstructed sample, limited to 15
// bits (blocks 5L, 6L, then 2L to 4L).
func (b *band) decodeLow(il int32, mode Mode) int32 {
	var q int32
	switch mode {
	case Mode2:
		q = qm5[il>>1]
	case Mode3:
		q = qm4[il>>2]
	default:
		q = qm6[il]
	}
	rl := b.s + mul(b.det, q)
	rl = min(max(rl, -16384), 16383)
	b.updateLow(il >> 2)
	return rl
}

// encodeHigh codes one higher-band sample xh and returns its 2-bit code
// (blocks 1H to 4H).
func (b *band) encodeHigh(xh int32) int32 {
	// SUBTRA
	eh := sat(xh - b.s)
	// QUANTH
	wd := eh
	if eh < 0 {
		wd = -(eh + 1)
	}
	mih := int32(1)
	if wd >= (564*b.det)>>12 {
		mih = 2
	}
	ih := ihp[mih]
	if eh < 0 {
		ih = ihn[mih]
	}
	b.updateHigh(ih)
	return ih
}

// updateHigh runs INVQAH, LOGSCH, SCALEH and the adaptation with the
// 2-bit code ih and returns the quantised difference.
func (b *band) updateHigh(ih int32) int32 {
	dh := mul(b.det, qm2[ih])
	b.scale(wh[rh2[ih]], 22528, 10)
	b.adapt(dh)
	return dh
}

// decodeHigh decodes a higher-band code ih and returns the reconstructed
// sample, limited to 15 bits (blocks 2H, 5H, 6H, 3H, 4H).
func (b *band) decodeHigh(ih int32) int32 {
	s := b.s
	rh := s + b.updateHigh(ih)
	return min(max(rh, -16384), 16383)
}
