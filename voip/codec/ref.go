package codec

// The reference algorithms below follow the ITU-T G.191 STL g711.c
// (functions alaw_compress, alaw_expand, ulaw_compress, ulaw_expand),
// one sample at a time. They run only at initialisation to fill the
// lookup tables; the tests also compare them with the STL test files.

// refAlawCompress is STL alaw_compress for one 16-bit left-justified
// sample: 13-bit A-law (G.711 Table 1a), even bits inverted.
func refAlawCompress(x int16) byte {
	var ix int32
	if x < 0 {
		ix = int32(^x) >> 4 // one's complement for negative values
	} else {
		ix = int32(x) >> 4
	}
	// ix is 0..2047: segment 0 is linear, segments 1..7 double the step.
	if ix > 15 {
		iexp := int32(1)
		for ix > 16+15 {
			ix >>= 1
			iexp++
		}
		ix -= 16 // drop the implied leading one
		ix += iexp << 4
	}
	if x >= 0 {
		ix |= 0x80 // sign bit set for positive values
	}
	return byte(ix) ^ 0x55 // even-bit inversion
}

// refAlawExpand is STL alaw_expand for one code byte: the decision value
// is the middle of the quantisation interval.
func refAlawExpand(b byte) int16 {
	ix := int32(b^0x55) & 0x7F
	iexp := ix >> 4
	mant := ix & 0x0F
	if iexp > 0 {
		mant += 16 // restore the leading one
	}
	mant = mant<<4 + 0x08
	if iexp > 1 {
		mant <<= iexp - 1
	}
	if b > 127 {
		return int16(mant)
	}
	return int16(-mant)
}

// refUlawCompress is STL ulaw_compress for one 16-bit left-justified
// sample: 14-bit µ-law (G.711 Table 2a) with bias 33 and clip at 8159.
func refUlawCompress(x int16) byte {
	var absno int32
	if x < 0 {
		absno = int32(^x)>>2 + 33 // one's complement for negative values
	} else {
		absno = int32(x)>>2 + 33
	}
	if absno > 0x1FFF {
		absno = 0x1FFF
	}
	segno := int32(1)
	for i := absno >> 6; i != 0; i >>= 1 {
		segno++
	}
	high := 8 - segno
	low := 0x0F - (absno>>segno)&0x0F
	out := byte(high<<4 | low)
	if x >= 0 {
		out |= 0x80
	}
	return out
}

// refUlawExpand is STL ulaw_expand for one code byte.
func refUlawExpand(b byte) int16 {
	sign := int32(1)
	if b < 0x80 {
		sign = -1
	}
	m := int32(^b)
	exponent := (m >> 4) & 0x07
	segment := exponent + 1
	m &= 0x0F
	step := int32(4) << segment
	return int16(sign * ((0x80 << exponent) + step*m + step/2 - 4*33))
}
