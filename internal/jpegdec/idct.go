package jpegdec

// The inverse DCT of libjpeg's JDCT_ISLOW (jidctint.c): Loeffler,
// Ligtenberg and Moschytz's 12-multiply 1-D IDCT in 13-bit fixed point,
// down the columns (results kept with 2 extra bits), then along the
// rows, each pass rounding as libjpeg's DESCALE does. The same integer
// arithmetic gives the same samples.
const (
	constBits = 13
	pass1Bits = 2

	fix0_298631336 = 2446
	fix0_390180644 = 3196
	fix0_541196100 = 4433
	fix0_765366865 = 6270
	fix0_899976223 = 7373
	fix1_175875602 = 9633
	fix1_501321110 = 12299
	fix1_847759065 = 15137
	fix1_961570560 = 16069
	fix2_053119869 = 16819
	fix2_562915447 = 20995
	fix3_072711026 = 25172
)

// clampSample is the sample for a row pass output x (the level shift by
// 128 included), saturated to [0, 255] as libjpeg-turbo's SIMD inverse
// DCT (which Pillow runs on x86) saturates it. libjpeg's C code looks it
// up in a table instead, which wraps values far out of range around;
// only extreme quantisation or damaged data get there.
func clampSample(x int32) byte {
	return byte(min(max(x+128, 0), 255))
}

// idct1D is the 1-D transform shared by both passes: the eight inputs
// in, the even part's sums and the odd part's four outputs out.
func idct1D(i0, i1, i2, i3, i4, i5, i6, i7 int32) (t10, t11, t12, t13, t0, t1, t2, t3 int32) {
	// Even part.
	z1 := (i2 + i6) * fix0_541196100
	t2 = z1 - i6*fix1_847759065
	t3 = z1 + i2*fix0_765366865
	t0 = (i0 + i4) << constBits
	t1 = (i0 - i4) << constBits
	t10, t13 = t0+t3, t0-t3
	t11, t12 = t1+t2, t1-t2
	// Odd part.
	t0, t1, t2, t3 = i7, i5, i3, i1
	z1 = t0 + t3
	z2 := t1 + t2
	z3 := t0 + t2
	z4 := t1 + t3
	z5 := (z3 + z4) * fix1_175875602
	t0 *= fix0_298631336
	t1 *= fix2_053119869
	t2 *= fix3_072711026
	t3 *= fix1_501321110
	z1 *= -fix0_899976223
	z2 *= -fix2_562915447
	z3 = z3*-fix1_961570560 + z5
	z4 = z4*-fix0_390180644 + z5
	t0 += z1 + z3
	t1 += z2 + z4
	t2 += z2 + z3
	t3 += z1 + z4
	return
}

// idctK are the constants of idctAVX2, each in eight lanes: the
// multipliers in the order the assembly's offsets name them, the two
// passes' rounding terms and the level shift.
var idctK = func() (k [15][8]int32) {
	for i, v := range [15]int32{
		fix0_541196100, fix1_847759065, fix0_765366865, fix1_175875602,
		fix0_298631336, fix2_053119869, fix3_072711026, fix1_501321110,
		-fix0_899976223, -fix2_562915447, -fix1_961570560, -fix0_390180644,
		1 << (constBits - pass1Bits - 1), 1 << (constBits + pass1Bits + 2), 128,
	} {
		for j := range k[i] {
			k[i][j] = v
		}
	}
	return
}()

// idct writes the 8×8 samples of the dequantised coefficients blk
// (natural order) to dst, stride bytes a row; dst must hold the 8 rows.
func idct(dst []byte, stride int, blk *[64]int32) {
	if useAVX2 {
		_ = dst[7*stride+7] // the rows the assembly writes are in dst
		idctAVX2(&dst[0], stride, blk, &idctK)
		return
	}
	idctGo(dst, stride, blk)
}

// idctGo is idct in Go.
func idctGo(dst []byte, stride int, blk *[64]int32) {
	var ws [64]int32
	// Columns.
	for c := 0; c < 8; c++ {
		in := blk[c:]
		if in[8] == 0 && in[16] == 0 && in[24] == 0 && in[32] == 0 && in[40] == 0 && in[48] == 0 && in[56] == 0 {
			dc := in[0] << pass1Bits
			for r := 0; r < 64; r += 8 {
				ws[r+c] = dc
			}
			continue
		}
		t10, t11, t12, t13, t0, t1, t2, t3 := idct1D(in[0], in[8], in[16], in[24], in[32], in[40], in[48], in[56])
		const sh, rnd = constBits - pass1Bits, 1 << (constBits - pass1Bits - 1)
		ws[c] = (t10 + t3 + rnd) >> sh
		ws[56+c] = (t10 - t3 + rnd) >> sh
		ws[8+c] = (t11 + t2 + rnd) >> sh
		ws[48+c] = (t11 - t2 + rnd) >> sh
		ws[16+c] = (t12 + t1 + rnd) >> sh
		ws[40+c] = (t12 - t1 + rnd) >> sh
		ws[24+c] = (t13 + t0 + rnd) >> sh
		ws[32+c] = (t13 - t0 + rnd) >> sh
	}
	// Rows.
	for r := 0; r < 8; r++ {
		w := ws[8*r : 8*r+8 : 8*r+8]
		out := dst[r*stride : r*stride+8 : r*stride+8]
		if w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0 {
			v := clampSample((w[0] + 1<<(pass1Bits+2)) >> (pass1Bits + 3))
			for i := range out {
				out[i] = v
			}
			continue
		}
		t10, t11, t12, t13, t0, t1, t2, t3 := idct1D(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7])
		const sh, rnd = constBits + pass1Bits + 3, 1 << (constBits + pass1Bits + 2)
		out[0] = clampSample((t10 + t3 + rnd) >> sh)
		out[7] = clampSample((t10 - t3 + rnd) >> sh)
		out[1] = clampSample((t11 + t2 + rnd) >> sh)
		out[6] = clampSample((t11 - t2 + rnd) >> sh)
		out[2] = clampSample((t12 + t1 + rnd) >> sh)
		out[5] = clampSample((t12 - t1 + rnd) >> sh)
		out[3] = clampSample((t13 + t0 + rnd) >> sh)
		out[4] = clampSample((t13 - t0 + rnd) >> sh)
	}
}

// idctDC writes the block of a lone dequantised DC coefficient dc: what
// idct gives for it, every sample the same.
func idctDC(dst []byte, stride int, dc int32) {
	v := clampSample((dc<<pass1Bits + 1<<(pass1Bits+2)) >> (pass1Bits + 3))
	for r := 0; r < 8; r++ {
		out := dst[r*stride : r*stride+8 : r*stride+8]
		for i := range out {
			out[i] = v
		}
	}
}
