package data

import "image"

// fromJPEGYCbCr converts the full-range YCbCr planes of a decoded JPEG to
// RGB as libjpeg-turbo does with its default settings, which is what
// Pillow, and so torchvision's ImageFolder, gives:
//
//   - Chroma subsampled 2:1 across (4:2:2, 4:2:0) or down (4:4:0, 4:2:0)
//     is upsampled with libjpeg's "fancy" triangle filter: a pixel weighs
//     the chroma sample that covers it 3/4 and the next nearest 1/4 in each
//     subsampled direction (9:3:3:1 in 4:2:0), a sample past the plane's
//     edge being the edge's own. 4:2:0 sums each column's two rows first
//     (3·nearer + farther) and then weighs the sums across; libjpeg's
//     rounding biases differ between even and odd pixels (so that halves
//     do not all round up), and are kept here.
//   - libjpeg repeats the covering sample instead for 4:1:1 and 4:1:0, and
//     for 2:1 across when the chroma plane is at most 2 samples wide (an
//     image at most 4 pixels wide), 4:2:0 then in both directions.
//   - Y, Cb and Cr become R, G and B in libjpeg's 16.16 fixed point
//     (jdcolor.c): with b = Cb−128 and r = Cr−128, R = Y + round(1.402·r),
//     B = Y + round(1.772·b), G = Y + ⌊−0.34414·b − 0.71414·r + ½⌋, each
//     coefficient rounded to 1/65536, then clamped to [0, 255].
//
// The covering sample with color.YCbCrToRGB's arithmetic (what FromImage
// does, as image.YCbCr's At defines the colours) is ~100 levels off
// Pillow at sharp colour edges. What is left is the IDCTs' rounding:
// image/jpeg's differs from libjpeg's by ±1 here and there.
//
// A sub-image is taken as an image of its own: the filter reads the
// chroma samples that cover its pixels and repeats them at its edges.
// One with negative coordinates (which the decoder never makes) takes the
// covering sample, as image.YCbCr's COffset finds it.
func fromJPEGYCbCr(m *image.YCbCr) Image {
	r := m.Rect
	w, h := max(r.Dx(), 0), max(r.Dy(), 0)
	out := Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
	var hs, vs uint // chroma is subsampled 1<<hs : 1 across, 1<<vs : 1 down
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	case image.YCbCrSubsampleRatio411:
		hs = 2
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	default:
		return FromImage(m) // no decoder makes these
	}
	if w == 0 || h == 0 {
		return out
	}
	if r.Min.X < 0 || r.Min.Y < 0 {
		// COffset divides toward zero, so pixels do not pair up as below.
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := m.YOffset(r.Min.X+x, r.Min.Y+y)
				ci := m.COffset(r.Min.X+x, r.Min.Y+y)
				jpegToRGB(out.Pix[3*(y*w+x):], int32(m.Y[yi]), int32(m.Cb[ci]), int32(m.Cr[ci]))
			}
		}
		return out
	}

	// Chroma sample (cx0, cy0) covers the top left pixel and is the
	// planes' first; the image's pixels are covered by ncols×nrows.
	cx0, cy0 := r.Min.X>>hs, r.Min.Y>>vs
	ncols := (r.Max.X-1)>>hs - cx0 + 1
	nrows := (r.Max.Y-1)>>vs - cy0 + 1
	fancyX := hs == 1 && ncols > 2
	fancyY := vs == 1 && (hs == 0 || fancyX)
	// Rows upsampled apart from the conversion cover whole chroma samples,
	// from pixel cx0<<hs: the image's row starts off pixels in.
	off := r.Min.X - cx0<<hs
	var upCb, upCr []uint8
	if !fancyX && (hs > 0 || fancyY) {
		upCb, upCr = make([]uint8, ncols<<hs), make([]uint8, ncols<<hs)
	}
	// 4:2:0's biases across, after the column sums 3·nearer + farther;
	// 4:2:2's filter is the same on sums 4·nearer with biases that give
	// its (3·nearer + farther + 1 or 2) >> 2.
	biasEven, biasOdd := int32(8), int32(7)
	if !fancyY {
		biasEven, biasOdd = 4, 8
	}

	cs := m.CStride
	for y := r.Min.Y; y < r.Max.Y; y++ {
		near := y>>vs - cy0
		cbNear := m.Cb[near*cs : near*cs+ncols]
		crNear := m.Cr[near*cs : near*cs+ncols]
		cbFar, crFar := cbNear, crNear
		if fancyY {
			// The farther row is the one above for an even pixel row,
			// below for an odd one, repeating the edge rows.
			far := min(max(near+2*(y&1)-1, 0), nrows-1)
			cbFar, crFar = m.Cb[far*cs:far*cs+ncols], m.Cr[far*cs:far*cs+ncols]
		}
		yo := m.YOffset(r.Min.X, y)
		ys := m.Y[yo : yo+w]
		row := out.Pix[(y-r.Min.Y)*3*w:][:3*w]
		cb, cr := upCb, upCr
		switch {
		case fancyX: // 4:2:0 and 4:2:2, upsampled as converted
			fancyRowToRGB(row, ys, cbNear, cbFar, crNear, crFar, off, biasEven, biasOdd)
			continue
		case hs == 0 && !fancyY: // 4:4:4
			cb, cr = cbNear, crNear
		case hs == 0: // 4:4:0
			bias := 1 + int32(y&1)
			for k := range cbNear {
				upCb[k] = uint8((3*int32(cbNear[k]) + int32(cbFar[k]) + bias) >> 2)
				upCr[k] = uint8((3*int32(crNear[k]) + int32(crFar[k]) + bias) >> 2)
			}
		default: // the covering sample
			n := 1 << hs
			for k := range cbNear {
				b, c := cbNear[k], crNear[k]
				for j := k * n; j < k*n+n; j++ {
					upCb[j], upCr[j] = b, c
				}
			}
		}
		jpegRowToRGB(row, ys, cb[off:off+w], cr[off:off+w])
	}
	return out
}

// fancyRowToRGB upsamples one row of 2:1 chroma across with libjpeg's
// filter and converts it to RGB in dst. Column k's sum, 3·near[k] +
// far[k], gives pixels 2k and 2k+1 of the chroma samples' span: pixel 2k
// is (3·sum k + sum k−1 + biasEven) >> 4, pixel 2k+1 the same with sum
// k+1 and biasOdd, the edge sums repeated past the edges. The row is the
// span's pixels from off (0 or 1) on; near has at least 2 samples. The
// sums are carried in registers, a pair of pixels at a time; with AVX2
// the columns between the first and the last go to fancyRowAVX2, 32 a
// step.
func fancyRowToRGB(dst, ys, cbNear, cbFar, crNear, crFar []uint8, off int, biasEven, biasOdd int32) {
	w, n := len(ys), len(cbNear)
	cbFar, crNear, crFar = cbFar[:n], crNear[:n], crFar[:n]
	dst = dst[:3*w]
	thisB := 3*int32(cbNear[0]) + int32(cbFar[0])
	thisR := 3*int32(crNear[0]) + int32(crFar[0])
	lastB, lastR := thisB, thisR
	// Pixel x of the row is pixel 2k of the span.
	x, k := 0, 0
	if off == 1 { // the row starts with the odd pixel of column 0
		nextB := 3*int32(cbNear[1]) + int32(cbFar[1])
		nextR := 3*int32(crNear[1]) + int32(crFar[1])
		jpegToRGB(dst[0:3:3], int32(ys[0]), (3*thisB+nextB+biasOdd)>>4, (3*thisR+nextR+biasOdd)>>4)
		lastB, thisB, lastR, thisR = thisB, nextB, thisR, nextR
		x, k = 1, 1
	}
	for x+1 < w && k+1 < n {
		// The AVX2 kernel takes the columns from k on whose pixels both
		// lie in the row and whose right neighbour is in the plane;
		// column 0 (its own left neighbour) is done here.
		if m := min((w-x)/2, n-1-k); useAVX2 && k > 0 && m >= 32 {
			fancyRowAVX2(&dst[3*x], &ys[x], &cbNear[k], &cbFar[k], &crNear[k], &crFar[k], m, biasEven, biasOdd)
			x, k = x+2*m, k+m
			lastB, thisB = 3*int32(cbNear[k-1])+int32(cbFar[k-1]), 3*int32(cbNear[k])+int32(cbFar[k])
			lastR, thisR = 3*int32(crNear[k-1])+int32(crFar[k-1]), 3*int32(crNear[k])+int32(crFar[k])
			continue
		}
		nextB := 3*int32(cbNear[k+1]) + int32(cbFar[k+1])
		nextR := 3*int32(crNear[k+1]) + int32(crFar[k+1])
		b3, r3 := 3*thisB, 3*thisR
		p := dst[3*x : 3*x+6 : 3*x+6]
		yp := ys[x : x+2 : x+2]
		jpegToRGB(p[0:3:3], int32(yp[0]), (b3+lastB+biasEven)>>4, (r3+lastR+biasEven)>>4)
		jpegToRGB(p[3:6:6], int32(yp[1]), (b3+nextB+biasOdd)>>4, (r3+nextR+biasOdd)>>4)
		lastB, thisB, lastR, thisR = thisB, nextB, thisR, nextR
		x, k = x+2, k+1
	}
	// What is left is column k's pixels, the last column's (whose right
	// neighbour is itself) or the even one at the row's end.
	if x < w {
		jpegToRGB(dst[3*x:3*x+3:3*x+3], int32(ys[x]), (3*thisB+lastB+biasEven)>>4, (3*thisR+lastR+biasEven)>>4)
	}
	if x+1 < w {
		jpegToRGB(dst[3*x+3:3*x+6:3*x+6], int32(ys[x+1]), (4*thisB+biasOdd)>>4, (4*thisR+biasOdd)>>4)
	}
}

// jpegRowToRGB converts one row of full-range Y, Cb and Cr (a sample of
// each a pixel) to interleaved RGB in dst with libjpeg's arithmetic;
// jpegRowAVX2 does rows of 32 pixels or more.
func jpegRowToRGB(dst, ys, cb, cr []uint8) {
	n := len(ys)
	cb, cr, dst = cb[:n], cr[:n], dst[:3*n]
	if useAVX2 && n >= 32 {
		jpegRowAVX2(&dst[0], &ys[0], &cb[0], &cr[0], n)
		return
	}
	for x, yv := range ys {
		jpegToRGB(dst[3*x:3*x+3:3*x+3], int32(yv), int32(cb[x]), int32(cr[x]))
	}
}

// jpegToRGB writes the R, G and B of one pixel's Y, Cb and Cr into p
// with libjpeg's arithmetic (cb and cr lie in [0, 255]).
func jpegToRGB(p []uint8, y, cb, cr int32) {
	y += 256 // clamp8's index of 0
	t := &jpegTabs
	b, r := uint8(cb), uint8(cr)
	p = p[:3:3]
	p[0] = clamp8[(y+t.rCr[r])&1023]
	p[1] = clamp8[(y+(t.gCb[b]+t.gCr[r])>>16)&1023]
	p[2] = clamp8[(y+t.bCb[b])&1023]
}

// jpegTabs are libjpeg's colour conversion tables (jdcolor.c), indexed
// by Cb or Cr: with c = Cb−128 or Cr−128, rCr and bCb are round(1.402·c)
// and round(1.772·c), gCb and gCr the 16.16 fixed-point terms of G, the
// rounding half in gCb.
var jpegTabs = func() (t struct{ rCr, bCb, gCb, gCr [256]int32 }) {
	// libjpeg's coefficients, ⌊k·65536 + ½⌋, and its rounding half.
	const (
		kRCr = 91881  // 1.40200
		kGCb = 22554  // 0.34414
		kGCr = 46802  // 0.71414
		kBCb = 116130 // 1.77200
		half = 1 << 15
	)
	for i := range 256 {
		c := int32(i) - 128
		t.rCr[i] = (kRCr*c + half) >> 16
		t.bCb[i] = (kBCb*c + half) >> 16
		t.gCb[i] = half - kGCb*c
		t.gCr[i] = -kGCr * c
	}
	return
}()

// jpegAVX2K are the constants of the AVX2 kernels (jpegconv_amd64.s),
// which compute jpegToRGB's terms in 16-bit lanes instead of reading
// jpegTabs. With c = Cb−128 or Cr−128 in [−128, 127] (b and r below):
//
//   - rCr = (91881·c + 2¹⁵) >> 16 = c + ((26345·c + 2¹⁵) >> 16), as
//     91881 = 65536 + 26345. VPMULHRSW(c, 13173) is (13173·c + 2¹⁴) >> 15
//     = (26346·c + 2¹⁵) >> 16, whose numerator is c more: over the 256
//     values of c that never reaches the next multiple of 65536.
//   - bCb = (116130·c + 2¹⁵) >> 16 = 2c + ((−14942·c + 2¹⁵) >> 16), as
//     116130 = 2·65536 − 14942, and the latter is VPMULHRSW(c, −7471) =
//     (−7471·c + 2¹⁴) >> 15 exactly (numerator and denominator halved).
//   - (gCb + gCr) >> 16 = (2¹⁵ − 22554·b − 46802·r) >> 16 =
//     ((−22554·b + 18734·r + 2¹⁵) >> 16) − r, as −46802 = 18734 − 65536;
//     VPMADDWD of the (b, r) word pairs with (−22554, 18734) is that sum
//     exactly in 32 bits.
//
// TestJPEGAVX2Arithmetic checks the three for every b and r, and the
// AVX2 kernels are checked against the Go loops on all 2²⁴ (Y, Cb, Cr).
//
// The clamp: rCr lies in [−179, 178], bCb in [−227, 225] and G's term
// in [−134, 135], so with Y in [0, 255] each sum lies in [−227, 480] and
// jpegToRGB's clamp8 index, sum + 256, in [29, 736]: the &1023 never
// wraps, and clamp8 there is the plain clamp to [0, 255], which the
// kernels' VPACKUSWB (signed words to bytes, saturating) is.
type jpegAVX2Consts struct {
	// shuf[j][c] gathers channel c's bytes of the interleaved RGB
	// bytes 16j … 16j+15 of 16 pixels (VPSHUFB, both lanes alike).
	shuf [3][3][32]uint8
	rMul [16]int16 // 13173
	bMul [16]int16 // −7471
	gMul [16]int16 // (−22554, 18734) pairs
	half [8]int32  // 2¹⁵
	c128 [16]int16 // 128
	// Weights for VPMADDUBSW on a row's bytes, which pairs columns
	// (2i, 2i+1): with near's pairs by (9, 3) or (3, 9) and far's by
	// (3, 1) or (1, 3), 3·sum k + sum k±1 is two products and a sum.
	w93, w31, w39, w13 [32]int8
	zero               [32]uint8
}

var jpegAVX2K = func() (k jpegAVX2Consts) {
	for j := range 3 {
		for c := range 3 {
			for i := range 32 {
				p := 16*j + i%16 // byte p of the lane's 48 is channel p%3 of pixel p/3
				k.shuf[j][c][i] = 0x80
				if p%3 == c {
					k.shuf[j][c][i] = uint8(p / 3)
				}
			}
		}
	}
	for i := range 16 {
		k.rMul[i], k.bMul[i], k.c128[i] = 13173, -7471, 128
		k.w93[2*i], k.w93[2*i+1], k.w31[2*i], k.w31[2*i+1] = 9, 3, 3, 1
		k.w39[2*i], k.w39[2*i+1], k.w13[2*i], k.w13[2*i+1] = 3, 9, 1, 3
		k.gMul[i] = [2]int16{-22554, 18734}[i%2]
	}
	for i := range k.half {
		k.half[i] = 1 << 15
	}
	return
}()
