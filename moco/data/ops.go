package data

import (
	"math"
)

// CHW is a float32 image stored plane by plane (C planes of H rows of W).
type CHW struct {
	C, H, W int
	Data    []float32
}

// plane returns channel c.
func (t CHW) plane(c int) []float32 { n := t.H * t.W; return t.Data[c*n : (c+1)*n] }

// Crop is a region of an image: rows Top…Top+H, columns Left…Left+W.
type Crop struct{ Top, Left, H, W int }

// RandomResizedCropParams is torchvision's RandomResizedCrop.get_params
// for a width×height image: up to 10 tries of an area fraction uniform in
// scale and a log-uniform aspect ratio in ratio (sizes rounded half to
// even, as Python's round), accepted when the crop fits, else the
// center-crop fallback that clamps the aspect ratio into ratio.
func RandomResizedCropParams(rng *RNG, width, height int, scale, ratio [2]float64) Crop {
	area := float64(height * width)
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * rng.Uniform(scale[0], scale[1])
		ar := math.Exp(rng.Uniform(lr0, lr1))
		w := pyRound(math.Sqrt(target * ar))
		h := pyRound(math.Sqrt(target / ar))
		if 0 < w && w <= width && 0 < h && h <= height {
			i := rng.Intn(height - h + 1)
			j := rng.Intn(width - w + 1)
			return Crop{Top: i, Left: j, H: h, W: w}
		}
	}
	inRatio := float64(width) / float64(height)
	var w, h int
	switch {
	case inRatio < min(ratio[0], ratio[1]):
		w = width
		h = pyRound(float64(w) / min(ratio[0], ratio[1]))
	case inRatio > max(ratio[0], ratio[1]):
		h = height
		w = pyRound(float64(h) * max(ratio[0], ratio[1]))
	default:
		w, h = width, height
	}
	return Crop{Top: (height - h) / 2, Left: (width - w) / 2, H: h, W: w}
}

// resampleCoeffs are the weights of PIL's antialiased bilinear resize
// along one axis (ImagingResample precompute_coeffs with the triangle
// filter): output pixel o reads inputs start[o]…start[o]+n[o]-1 with
// weights w[o*k:]. wt holds the same weights tap-major (wt[j*count+o]
// is w[o*k+j]), so that the AVX2 horizontal pass loads the j-th weights
// of 8 consecutive outputs at once; maxStart is the largest start.
type resampleCoeffs struct {
	k        int
	start    []int32
	n        []int32
	w        []float32
	wt       []float32
	maxStart int
}

// compute fills the coefficients of outputs o0…o0+count-1 (stored from
// index 0) of an inSize → outSize resize.
func (rc *resampleCoeffs) compute(inSize, outSize, o0, count int) {
	scale := float64(inSize) / float64(outSize)
	fscale := max(scale, 1.0)
	support := 1.0 * fscale
	k := int(math.Ceil(support))*2 + 1
	rc.k = k
	rc.start = grow(rc.start, count)
	rc.n = grow(rc.n, count)
	rc.w = grow(rc.w, count*k)
	ss := 1.0 / fscale
	var tmp [64]float64
	wts := tmp[:0]
	for oi := 0; oi < count; oi++ {
		o := o0 + oi
		// Explicit conversions keep the compiler from fusing a product
		// into the next add (GOAMD64=v3), so that the weights are the
		// same on every machine.
		center := float64((float64(o) + 0.5) * scale)
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		n := xmax - xmin
		wts = wts[:0]
		sum := 0.0
		for x := 0; x < n; x++ {
			t := math.Abs(float64((float64(x+xmin) - center + 0.5) * ss))
			w := 0.0
			if t < 1 {
				w = 1 - t
			}
			wts = append(wts, w)
			sum += w
		}
		row := rc.w[oi*k : (oi+1)*k]
		for x := range row {
			row[x] = 0
		}
		for x, w := range wts {
			if sum != 0 {
				w /= sum
			}
			row[x] = float32(w)
		}
		rc.start[oi] = int32(xmin)
		rc.n[oi] = int32(n)
	}
	rc.maxStart = 0
	for _, st := range rc.start {
		rc.maxStart = max(rc.maxStart, int(st))
	}
	rc.wt = grow(rc.wt, k*count)
	for oi := 0; oi < count; oi++ {
		for j, w := range rc.w[oi*k : (oi+1)*k] {
			rc.wt[j*count+oi] = w
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Scratch holds the buffers an augmentation reuses between calls. The
// zero value is ready; one Scratch per goroutine.
type Scratch struct {
	cx, cy resampleCoeffs
	row    []float32 // one crop row as float planes, zero-padded
	tmp    []float32 // horizontal pass output
	img    []float32 // 3×S×S working image
	aux    []float32 // blur scratch
	pad    []float32 // blur row scratch
}

// lut255[v] is float32(v)/255, ToTensor's conversion (a correctly
// rounded division, as in exactCHW).
var lut255 = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return
}()

// resizeInto resamples the crop c of src to outW×outH (the full output)
// and writes the output window rows oy…oy+dst.H, columns ox…ox+dst.W into
// dst (3 channels, values in [0, 1]). A 1-channel source is replicated to
// 3 channels. It is PIL's antialiased bilinear resize of the cropped
// image, computed in float32 without intermediate rounding: horizontal
// pass over the rows the window needs, then vertical pass. The bytes are
// scaled to [0, 1] as they are read (ToTensor's v/255), so that a
// weight of exactly 1 reproduces ToTensor bit for bit.
func (s *Scratch) resizeInto(dst CHW, src *Image, c Crop, outW, outH, ox, oy int) {
	if dst.W <= 0 || dst.H <= 0 || c.W <= 0 || c.H <= 0 {
		return
	}
	s.cx.compute(c.W, outW, ox, dst.W)
	s.cy.compute(c.H, outH, oy, dst.H)
	// Rows of the crop needed by the output window.
	y0 := int(s.cy.start[0])
	y1 := 0
	for o := 0; o < dst.H; o++ {
		y1 = max(y1, int(s.cy.start[o]+s.cy.n[o]))
	}
	nr := y1 - y0
	C := src.C
	W := dst.W
	// One crop row as C float planes of c.W values, each followed by
	// kx zeros so that every output reads a full kx-tap window (and at
	// least 8, so that the AVX2 kernel can read 8-value windows).
	kx := s.cx.k
	stride := c.W + max(kx, 8)
	s.row = grow(s.row, C*stride)
	for ch := 0; ch < C; ch++ {
		clear(s.row[ch*stride+c.W : (ch+1)*stride])
	}
	s.tmp = grow(s.tmp, C*nr*W)
	taps := s.cx.maxN()
	for r := 0; r < nr; r++ {
		sy := c.Top + y0 + r
		srow := src.Pix[(sy*src.W+c.Left)*C : (sy*src.W+c.Left+c.W)*C]
		if C == 1 {
			grayRow(s.row[:c.W], srow)
		} else {
			rgbRow(s.row[:c.W], s.row[stride:stride+c.W], s.row[2*stride:2*stride+c.W], srow)
		}
		for ch := 0; ch < C; ch++ {
			hResample(s.tmp[(ch*nr+r)*W:(ch*nr+r+1)*W], s.row[ch*stride:(ch+1)*stride], &s.cx, taps)
		}
	}
	// Vertical pass: tmp → dst.
	for ch := 0; ch < C; ch++ {
		tp := s.tmp[ch*nr*W : (ch+1)*nr*W]
		out := dst.plane(ch)
		for y := 0; y < dst.H; y++ {
			st, n := int(s.cy.start[y])-y0, int(s.cy.n[y])
			vResample(out[y*W:(y+1)*W], tp[st*W:(st+n)*W], s.cy.w[y*s.cy.k:y*s.cy.k+n])
		}
	}
	if C == 1 {
		copy(dst.plane(1), dst.plane(0))
		copy(dst.plane(2), dst.plane(0))
	}
}

// maxN is the largest number of nonzero taps of any output.
func (rc *resampleCoeffs) maxN() int {
	m := 0
	for _, n := range rc.n {
		m = max(m, int(n))
	}
	return m
}

// grayRow converts one row of bytes to [0, 1] (ToTensor's v/255).
func grayRow(f []float32, src []uint8) {
	src = src[:len(f)]
	x := 0
	if useAVX2 && len(f) >= 8 {
		// The kernel reads the bytes of its 8-pixel groups only, all
		// within src.
		x = len(f) &^ 7
		grayRowAVX2(&f[0], &src[0], x)
	}
	for ; x < len(f); x++ {
		f[x] = lut255[src[x]]
	}
}

// rgbRow splits one row of interleaved RGB bytes into three planes in
// [0, 1] (ToTensor's v/255).
func rgbRow(f0, f1, f2 []float32, src []uint8) {
	n := len(f0)
	f1, f2, src = f1[:n], f2[:n], src[:3*n]
	x := 0
	if useAVX2 && n >= 8 {
		// Each 8-pixel group is read as bytes 24i…24i+15 and
		// 24i+8…24i+23 (two 16-byte loads that overlap): the kernel
		// reads no byte past the group's 24, so none past src, which
		// ends at the crop's right edge (on the last row of an image,
		// the end of Pix).
		x = n &^ 7
		rgbRowAVX2(&f0[0], &f1[0], &f2[0], &src[0], x)
	}
	for ; x < n; x++ {
		p := src[3*x : 3*x+3 : 3*x+3]
		f0[x] = lut255[p[0]]
		f1[x] = lut255[p[1]]
		f2[x] = lut255[p[2]]
	}
}

// hResample is the horizontal pass over one row: out[x] is the sum of
// rc.w[x·k+j]·in[start[x]+j] over j < taps, in order (w0·p0, then
// + wj·pj). Weights past an output's own count are zero and in holds k
// zeros past the crop, so the fixed tap count gives the same sums as
// the exact one. The AVX2 kernels do 8 outputs at a time (the weights
// from rc.wt): up to 8 taps by transposing the outputs' input windows,
// else gathering in[start[x]+j]; the Go loop does the rest.
func hResample(out, in []float32, rc *resampleCoeffs, taps int) {
	x := 0
	if useAVX2 && len(out) >= 8 && taps >= 1 {
		// The kernels read in[start[x]+j] for j < taps (in resizeInto
		// start[x] < crop width and taps ≤ k, the zeros past the crop),
		// the windowed one in[start[x] : start[x]+win].
		x = len(out) &^ 7
		count := len(rc.start)
		_ = rc.start[x-1]
		_ = rc.wt[(taps-1)*count+x-1]
		win := 4
		if taps > 4 {
			win = 8
		}
		if taps <= 8 && rc.maxStart+win <= len(in) {
			hResampleWinAVX2(&out[0], &in[0], &rc.start[0], &rc.wt[0], x, taps, count)
		} else {
			_ = in[rc.maxStart+taps-1]
			hResampleAVX2(&out[0], &in[0], &rc.start[0], &rc.wt[0], x, taps, count)
		}
	}
	if x < len(out) {
		k := rc.k
		hResampleGo(out[x:], in, rc.start[x:len(out)], rc.w[x*k:len(out)*k], k, taps)
	}
}

// hResampleGo is hResample's loop over the outputs whose starts and
// weights (k a row) are given. The products are rounded before they
// are added (explicit conversions: no fused multiply-add).
func hResampleGo(out, in []float32, start []int32, w []float32, k, taps int) {
	start = start[:len(out)]
	w = w[:len(out)*k]
	switch taps {
	case 1:
		for x := range out {
			st := int(start[x])
			out[x] = w[x*k] * in[st]
		}
	case 2:
		for x := range out {
			st := int(start[x])
			p := in[st : st+2 : st+2]
			c := w[x*k : x*k+2 : x*k+2]
			out[x] = float32(c[0]*p[0]) + float32(c[1]*p[1])
		}
	case 3:
		for x := range out {
			st := int(start[x])
			p := in[st : st+3 : st+3]
			c := w[x*k : x*k+3 : x*k+3]
			out[x] = float32(c[0]*p[0]) + float32(c[1]*p[1]) + float32(c[2]*p[2])
		}
	case 4:
		for x := range out {
			st := int(start[x])
			p := in[st : st+4 : st+4]
			c := w[x*k : x*k+4 : x*k+4]
			out[x] = float32(c[0]*p[0]) + float32(c[1]*p[1]) + float32(c[2]*p[2]) + float32(c[3]*p[3])
		}
	case 5:
		for x := range out {
			st := int(start[x])
			p := in[st : st+5 : st+5]
			c := w[x*k : x*k+5 : x*k+5]
			out[x] = float32(c[0]*p[0]) + float32(c[1]*p[1]) + float32(c[2]*p[2]) + float32(c[3]*p[3]) + float32(c[4]*p[4])
		}
	case 6:
		for x := range out {
			st := int(start[x])
			p := in[st : st+6 : st+6]
			c := w[x*k : x*k+6 : x*k+6]
			out[x] = float32(c[0]*p[0]) + float32(c[1]*p[1]) + float32(c[2]*p[2]) + float32(c[3]*p[3]) + float32(c[4]*p[4]) + float32(c[5]*p[5])
		}
	default:
		for x := range out {
			st := int(start[x])
			p := in[st : st+taps]
			c := w[x*k : x*k+taps]
			acc := c[0] * p[0]
			for j := 1; j < taps; j++ {
				acc += float32(c[j] * p[j])
			}
			out[x] = acc
		}
	}
}

// vResample is the vertical pass for one output row: out is the sum of
// w[j]·rows[j] over the len(w) consecutive rows held in rows, in order
// (w0·row0, then + wj·rowj). The AVX2 kernel does the columns in groups
// of 8, the Go loop the rest.
func vResample(out, rows []float32, w []float32) {
	W := len(out)
	n := len(w)
	x := 0
	if useAVX2 && W >= 8 && n >= 1 {
		x = W &^ 7
		_ = rows[n*W-1]
		vResampleAVX2(&out[0], &rows[0], &w[0], n, W, x)
	}
	if x < W {
		vResampleGo(out[x:], rows[x:], W, w)
	}
}

// vResampleGo is vResample on the columns len(out) of rows of stride W
// (rows[j*W:] is row j, from the first column of out). The sum is a
// sequential one, acc = w0·row0, acc = acc + wj·rowj, the products
// rounded before they are added (explicit conversions: no fused
// multiply-add).
func vResampleGo(out, rows []float32, W int, w []float32) {
	m := len(out)
	n := len(w)
	j := 0
	switch {
	case n >= 3:
		a, b, c := rows[:m], rows[W:W+m], rows[2*W:2*W+m]
		w0, w1, w2 := w[0], w[1], w[2]
		for x := range out {
			out[x] = float32(w0*a[x]) + float32(w1*b[x]) + float32(w2*c[x])
		}
		j = 3
	case n == 2:
		a, b := rows[:m], rows[W:W+m]
		w0, w1 := w[0], w[1]
		for x := range out {
			out[x] = float32(w0*a[x]) + float32(w1*b[x])
		}
		return
	case n == 1:
		a := rows[:m]
		w0 := w[0]
		for x := range out {
			out[x] = w0 * a[x]
		}
		return
	default:
		clear(out)
		return
	}
	for ; j+1 < n; j += 2 {
		a, b := rows[j*W:j*W+m], rows[(j+1)*W:(j+1)*W+m]
		w0, w1 := w[j], w[j+1]
		for x := range out {
			out[x] = out[x] + float32(w0*a[x]) + float32(w1*b[x])
		}
	}
	if j < n {
		a := rows[j*W : j*W+m]
		w0 := w[j]
		for x := range out {
			out[x] += float32(w0 * a[x])
		}
	}
}

// ResizedCrop crops c out of src and resizes it to size×size (bilinear,
// antialiased as PIL), returning a new 3-channel image in [0, 1].
func ResizedCrop(src *Image, c Crop, size int) CHW {
	var s Scratch
	dst := CHW{C: 3, H: size, W: size, Data: make([]float32, 3*size*size)}
	s.resizeInto(dst, src, c, size, size, 0, 0)
	return dst
}

// clamp01 is min(max(x, 0), 1) without branches (the jitter factors
// make clamping data dependent): on the bits, negative floats are
// negative int32s and non-negative ones are ordered as their values.
// −0 becomes +0; NaN is not expected (it becomes 0 or 1).
func clamp01(x float32) float32 {
	b := int32(math.Float32bits(x))
	return math.Float32frombits(uint32(min(max(b, 0), 0x3f800000)))
}

// Luma coefficients of torchvision's rgb_to_grayscale (ITU-R 601-2).
const (
	lumaR = float32(0.2989)
	lumaG = float32(0.587)
	lumaB = float32(0.114)
)

// The colour ops below work on the three planes of a CHW image, or on
// matching pieces r, g, b of them (AugmentView runs them a few rows at
// a time so that a chain of ops stays in the L1 cache).

// AdjustBrightness blends with black: x·f, clamped to [0, 1].
func AdjustBrightness(t CHW, f float64) {
	brightness(t.plane(0), t.plane(1), t.plane(2), float32(f))
}

func brightness(r, g, b []float32, f float32) {
	for _, p := range [3][]float32{r, g, b} {
		if n8 := len(p) &^ 7; useAVX2 && n8 > 0 {
			// f·v + 0 differs from f·v only at −0, which the clamp
			// makes +0 either way.
			affineClampAVX2(&p[0], n8, f, 0)
			p = p[n8:]
		}
		for i, v := range p {
			p[i] = clamp01(f * v)
		}
	}
}

// AdjustContrast blends with the mean of the grayscale image.
func AdjustContrast(t CHW, f float64) {
	r, g, b := t.plane(0), t.plane(1), t.plane(2)
	contrast(r, g, b, float32(f), lumaMean(lumaSum(r, g, b), len(r)))
}

// luma is the grayscale value of one pixel, each product rounded
// before it is added (as the AVX2 kernels compute it).
func luma(r, g, b float32) float32 {
	return float32(lumaR*r) + float32(lumaG*g) + float32(lumaB*b)
}

// lumaCoeffs are the luma coefficients for the AVX2 kernels.
var lumaCoeffs = [3]float32{lumaR, lumaG, lumaB}

// lumaSum is the float64 sum of the float32 luma of every pixel.
func lumaSum(r, g, b []float32) float64 {
	g, b = g[:len(r)], b[:len(r)]
	var s0, s1 float64
	i := 0
	for ; i+1 < len(r); i += 2 {
		s0 += float64(luma(r[i], g[i], b[i]))
		s1 += float64(luma(r[i+1], g[i+1], b[i+1]))
	}
	if i < len(r) {
		s0 += float64(luma(r[i], g[i], b[i]))
	}
	return s0 + s1
}

func lumaMean(sum float64, n int) float32 { return float32(sum / float64(n)) }

func contrast(r, g, b []float32, f, mean float32) {
	rest := float32((1 - f) * mean)
	for _, p := range [3][]float32{r, g, b} {
		if n8 := len(p) &^ 7; useAVX2 && n8 > 0 {
			affineClampAVX2(&p[0], n8, f, rest)
			p = p[n8:]
		}
		for i, v := range p {
			p[i] = clamp01(float32(f*v) + rest)
		}
	}
}

// AdjustSaturation blends with the grayscale image.
func AdjustSaturation(t CHW, f float64) {
	saturation(t.plane(0), t.plane(1), t.plane(2), float32(f))
}

func saturation(r, g, b []float32, f float32) {
	g, b = g[:len(r)], b[:len(r)]
	omf := 1 - f
	if n8 := len(r) &^ 7; useAVX2 && n8 > 0 {
		saturationAVX2(&r[0], &g[0], &b[0], n8, f, omf)
		r, g, b = r[n8:], g[n8:], b[n8:]
	}
	for i := range r {
		gr := float32(omf * luma(r[i], g[i], b[i]))
		r[i] = clamp01(float32(f*r[i]) + gr)
		g[i] = clamp01(float32(f*g[i]) + gr)
		b[i] = clamp01(float32(f*b[i]) + gr)
	}
}

// Grayscale replaces every channel by the luma.
func Grayscale(t CHW) { grayscale(t.plane(0), t.plane(1), t.plane(2)) }

func grayscale(r, g, b []float32) {
	g, b = g[:len(r)], b[:len(r)]
	if n8 := len(r) &^ 7; useAVX2 && n8 > 0 {
		grayscaleAVX2(&r[0], &g[0], &b[0], n8)
		r, g, b = r[n8:], g[n8:], b[n8:]
	}
	for i := range r {
		l := luma(r[i], g[i], b[i])
		r[i], g[i], b[i] = l, l, l
	}
}

// AdjustHue shifts the hue by f (a fraction of the colour circle, in
// [-0.5, 0.5]) in HSV space, with torchvision's _rgb2hsv and _hsv2rgb.
func AdjustHue(t CHW, f float64) { hue(t.plane(0), t.plane(1), t.plane(2), float32(f)) }

// hue is torchvision's adjust_hue without the HSV round trip's
// branches and divisions. A hue rotation keeps V = max and S, so it
// keeps the minimum and the chroma cr = max − min: the output is a
// permutation of (max, mid', min) where mid' is _hsv2rgb's
// q = v − cr·fr or t = v − cr·(1 − fr) (p = v(1 − s) is the minimum).
// The input's channel order (three comparisons, with _rgb2hsv's
// preference for R, then G, at ties) gives the sector the hue starts
// in and the direction, 6h = base ± (mid − min)/cr. The shift 6f is
// split into an integer and a fraction once; the position in the new
// sector is kept multiplied by cr, so the division by cr cancels.
// Tables then give the new sector's channel roles. The values agree
// with torchvision's to about 1e-6 (float32 rounding of the two
// formulations; the golden test's worst case is 8e-7).
func hue(r, g, b []float32, f float32) {
	d := 6 * float64(f)
	di := math.Floor(d)
	df := float32(d - di)
	dI := int(di) + 6 // base + dI + carry ∈ [2, 15] for |f| ≤ 0.5
	g, b = g[:len(r)], b[:len(r)]
	if n8 := len(r) &^ 7; useAVX2 && n8 > 0 {
		hueAVX2(&r[0], &g[0], &b[0], n8, df, dI, &hueTab)
		r, g, b = r[n8:], g[n8:], b[n8:]
	}
	for i := range r {
		var v [4]float32
		v[0], v[1], v[2] = r[i], g[i], b[i]
		code := b2i(v[0] >= v[1]) | b2i(v[1] >= v[2])<<1 | b2i(v[2] >= v[0])<<2
		in := &hueIn[code&7]
		maxc, mid, minc := v[in.iMax&3], v[in.iMid&3], v[in.iMin&3]
		cr := maxc - minc
		if cr == 0 {
			continue // gray: s = 0, every channel stays v
		}
		// u = cr·(sign·(mid−min)/cr + df): the new position in the
		// sector times cr, so that no division is needed.
		u := float32(in.sign*(mid-minc)) + float32(df*cr)
		c := b2i(u >= cr) - b2i(u < 0)
		fr := u - float32(float32(c)*cr) // cr·fr
		o := &hueW[mod6[(int(in.base)+dI+c)&15]]
		r[i] = maxc - (float32(o[0]*cr) + float32(o[1]*fr))
		g[i] = maxc - (float32(o[2]*cr) + float32(o[3]*fr))
		b[i] = maxc - (float32(o[4]*cr) + float32(o[5]*fr))
	}
}

func b2i(b bool) int {
	i := 0
	if b {
		i = 1
	}
	return i
}

// hueIn maps the channel order code (R≥G) | (G≥B)<<1 | (B≥R)<<2 to
// the channels holding max, mid and min and _rgb2hsv's 6h = base +
// sign·(mid − min)/cr.
var hueIn = [8]struct {
	iMax, iMid, iMin uint8
	base             int8
	sign             float32
}{
	0b011: {0, 1, 2, 0, 1},  // R ≥ G ≥ B, R > B: h = (G−B)/cr
	0b001: {0, 2, 1, 6, -1}, // R > B > G: h = (G−B)/cr + 6
	0b101: {2, 0, 1, 4, 1},  // B ≥ R ≥ G, B > G: h = 4 + (R−G)/cr
	0b010: {1, 0, 2, 2, -1}, // G > R > B: h = 2 + (B−R)/cr
	0b110: {1, 2, 0, 2, 1},  // G ≥ B ≥ R, G > R: h = 2 + (B−R)/cr
	0b100: {2, 1, 0, 4, -1}, // B > G > R: h = 4 + (R−G)/cr
	0b111: {0, 1, 2, 0, 1},  // all equal (cr = 0)
	0b000: {0, 1, 2, 0, 1},  // only with NaN
}

// hueOut is _hsv2rgb's table for sector i: the channels that get v,
// the middle value v − cr·(a + b·fr) and p.
var hueOut = [6]struct {
	iv, im, ip uint8
	a, b       float32
}{
	{0, 1, 2, 1, -1}, // (v, t, p)
	{1, 0, 2, 0, 1},  // (q, v, p)
	{1, 2, 0, 1, -1}, // (p, v, t)
	{2, 1, 0, 0, 1},  // (p, q, v)
	{2, 0, 1, 1, -1}, // (t, p, v)
	{0, 2, 1, 0, 1},  // (v, p, q)
}

// hueW is hueOut as weights: channel c of sector i is
// v − (hueW[i][2c]·cr + hueW[i][2c+1]·cr·fr), so v (weights 0, 0),
// p = v − cr (1, 0) and the middle value (a, b) need no branch and no
// indexed store.
var hueW = func() (t [6][6]float32) {
	for i, o := range hueOut {
		t[i][2*o.iv] = 0
		t[i][2*o.ip] = 1
		t[i][2*o.im], t[i][2*o.im+1] = o.a, o.b
	}
	return
}()

var mod6 = func() (t [16]uint8) {
	for i := range t {
		t[i] = uint8(i % 6)
	}
	return
}()

// hueTables are hueIn and hueW as the AVX2 kernel reads them: lane i
// of sign and base is hueIn[i]'s, lane s of w[j] is hueW[s][j] (so a
// VPERMPS by the code or the sector looks them up), and the integer
// constants the kernel compares and masks with.
type hueTables struct {
	sign      [8]float32
	base      [8]int32
	w         [6][8]float32
	bit1      [8]int32 // 1: R ≥ G
	bit2      [8]int32 // 2: G ≥ B
	bit4      [8]int32 // 4: B ≥ R
	five, six [8]int32 // s > 5 → s − 6
}

var hueTab = func() (t hueTables) {
	for i, in := range hueIn {
		t.sign[i], t.base[i] = in.sign, int32(in.base)
	}
	for s, w := range hueW {
		for j, v := range w {
			t.w[j][s] = v
		}
	}
	for i := range 8 {
		t.bit1[i], t.bit2[i], t.bit4[i] = 1, 2, 4
		t.five[i], t.six[i] = 5, 6
	}
	return
}()

// laneReverse is the lane order 7…0, for normalizeFlipAVX2's VPERMPS.
var laneReverse = [8]int32{7, 6, 5, 4, 3, 2, 1, 0}

// solarizeThreshold is 128 on the 0…255 scale, computed as ToTensor
// computes 128/255.
var solarizeThreshold = float32(128) / float32(255)

// Solarize inverts values at or above 128/255 (PIL ImageOps.solarize
// with threshold 128).
func Solarize(t CHW) { solarize(t.Data) }

func solarize(p []float32) {
	if n8 := len(p) &^ 7; useAVX2 && n8 > 0 {
		solarizeAVX2(&p[0], n8, solarizeThreshold)
		p = p[n8:]
	}
	for i, v := range p {
		if v >= solarizeThreshold {
			p[i] = 1 - v
		}
	}
}

// FlipH mirrors the image left to right.
func FlipH(t CHW) {
	for c := 0; c < t.C; c++ {
		p := t.plane(c)
		for y := 0; y < t.H; y++ {
			row := p[y*t.W : (y+1)*t.W]
			for i, j := 0, len(row)-1; i < j; i, j = i+1, j-1 {
				row[i], row[j] = row[j], row[i]
			}
		}
	}
}

// boxBlurRadius is PIL's _gaussian_blur_radius: the fractional radius
// of each of `passes` extended box filters whose cascade has variance
// sigma² (Gwosdek et al. 2011).
func boxBlurRadius(sigma float64, passes int) float64 {
	s2 := sigma * sigma / float64(passes)
	// Explicit conversions: no fused multiply-add (GOAMD64=v3), the
	// same radius on every machine.
	L := math.Sqrt(float64(12*s2) + 1)
	l := math.Floor((L - 1) / 2)
	a := float64((2*l + 1) * (float64(l*(l+1)) - float64(3*s2)))
	a /= 6 * (s2 - float64((l+1)*(l+1)))
	return l + a
}

// GaussianBlur is PIL's ImageFilter.GaussianBlur(radius=sigma): three
// extended box filters along rows, then three along columns, edge
// pixels repeated. Each box of fractional radius ρ = r + a averages the
// 2r+1 nearest pixels with weight 1/(2ρ+1) each and the two pixels at
// distance r+1 with the remaining weight split evenly.
func GaussianBlur(t CHW, sigma float64) {
	var s Scratch
	s.blur(t, sigma)
}

// boxParams are the box radius r and the weights of one extended box
// pass for σ: inner pixels ww, the two tail pixels fw.
func boxParams(sigma float64) (r int, ww, fw float32) {
	rho := boxBlurRadius(sigma, 3)
	r = int(rho)
	ww = float32(1 / (2*rho + 1))
	fw = (1 - float32(float32(2*r+1)*ww)) / 2
	return
}

func (s *Scratch) blur(t CHW, sigma float64) {
	if sigma <= 0 {
		return
	}
	for c := 0; c < t.C; c++ {
		s.blurPlane(t.plane(c), t.W, t.H, sigma)
	}
}

// blurPlane blurs one W×H plane in place. Each pass sums its terms in
// the order PIL's formula is written (the inner pixels left to right,
// times ww, plus the two tails times fw), so the result is the same
// float32 arithmetic as a pass-by-pass loop over a padded copy.
func (s *Scratch) blurPlane(p []float32, W, H int, sigma float64) {
	r, ww, fw := boxParams(sigma)
	R := r + 1
	s.pad = grow(s.pad, 2*(W+2*R))
	a := s.pad[:W+2*R]
	b := s.pad[W+2*R : 2*(W+2*R)]
	s.aux = grow(s.aux, W*H)
	aux := s.aux
	// Rows: three passes in the padded buffers a → b → a → the row of
	// aux (the first vertical pass reads aux).
	for y := 0; y < H; y++ {
		copy(a[R:R+W], p[y*W:(y+1)*W])
		hBoxPass(b, a, W, r, ww, fw)
		hBoxPass(a, b, W, r, ww, fw)
		padEdges(a, W, R)
		hBoxRow(aux[y*W:(y+1)*W], a, r, ww, fw)
	}
	// Columns: aux → p → aux → p.
	vBoxPass(p, aux, W, H, r, ww, fw)
	vBoxPass(aux, p, W, H, r, ww, fw)
	vBoxPass(p, aux, W, H, r, ww, fw)
}

// padEdges repeats the first and last of the W values at a[R:R+W]
// into the R cells on each side.
func padEdges(a []float32, W, R int) {
	lo, hi := a[R], a[R+W-1]
	for i := 0; i < R; i++ {
		a[i] = lo
		a[R+W+i] = hi
	}
}

// hBoxPass pads in's edges and writes one box pass over the W values
// at in[R:R+W] into out[R:R+W].
func hBoxPass(out, in []float32, W, r int, ww, fw float32) {
	R := r + 1
	padEdges(in, W, R)
	hBoxRow(out[R:R+W], in, r, ww, fw)
}

// hBoxRow writes one box pass of the padded row in (len(out)+2r+2
// values, out[x] centred on in[x+r+1]) into out: out[x] =
// (in[x+1] + … + in[x+2r+1])·ww + (in[x] + in[x+2r+2])·fw, the sums
// left to right. The AVX2 kernel does 8 outputs at a time, the Go loop
// the rest.
func hBoxRow(out, in []float32, r int, ww, fw float32) {
	W := len(out)
	x := 0
	if useAVX2 && W >= 8 {
		x = W &^ 7
		_ = in[x+2*r+1] // the kernel reads in[0 : x+2r+2]
		hBoxRowAVX2(&out[0], &in[0], x, r, ww, fw)
	}
	if x < W {
		hBoxRowGo(out[x:], in[x:], r, ww, fw)
	}
}

// hBoxRowGo is hBoxRow's Go loop. The products are rounded before they
// are added (explicit conversions: no fused multiply-add).
func hBoxRowGo(out, in []float32, r int, ww, fw float32) {
	W := len(out)
	switch r {
	case 0:
		in = in[:W+2]
		p0, p1 := in[0], in[1]
		for x, p2 := range in[2 : W+2] {
			out[x] = float32(p1*ww) + float32((p0+p2)*fw)
			p0, p1 = p1, p2
		}
	case 1:
		in = in[:W+4]
		p0, p1, p2, p3 := in[0], in[1], in[2], in[3]
		for x, p4 := range in[4 : W+4] {
			out[x] = float32((p1+p2+p3)*ww) + float32((p0+p4)*fw)
			p0, p1, p2, p3 = p1, p2, p3, p4
		}
	case 2:
		in = in[:W+6]
		p0, p1, p2, p3, p4, p5 := in[0], in[1], in[2], in[3], in[4], in[5]
		for x, p6 := range in[6 : W+6] {
			out[x] = float32((p1+p2+p3+p4+p5)*ww) + float32((p0+p6)*fw)
			p0, p1, p2, p3, p4, p5 = p1, p2, p3, p4, p5, p6
		}
	default:
		for x := range out {
			acc := in[x+1]
			for _, v := range in[x+2 : x+2*r+2] {
				acc += v
			}
			out[x] = float32(acc*ww) + float32((in[x]+in[x+2*r+2])*fw)
		}
	}
}

// vBoxPass is one box pass down the columns of the W×H plane in into
// out, rows past the edges repeating the edge rows: out row y is
// (row y−r + … + row y+r)·ww + (row y−r−1 + row y+r+1)·fw. The AVX2
// kernel does the columns in groups of 8, the Go loop the rest.
func vBoxPass(out, in []float32, W, H, r int, ww, fw float32) {
	in = in[:W*H]
	out = out[:W*H]
	x0 := 0
	if useAVX2 && W >= 8 && H >= 1 {
		x0 = W &^ 7
		var buf [16]uintptr // the kernel's scratch for 2r+3 row addresses
		rows := buf[:]
		if 2*r+3 > len(rows) {
			rows = make([]uintptr, 2*r+3)
		}
		vBoxPassAVX2(&out[0], &in[0], &rows[0], W, H, r, x0, ww, fw)
	}
	if x0 == W {
		return
	}
	row := func(k int) []float32 { k = min(max(k, 0), H-1); return in[k*W+x0 : (k+1)*W] }
	for y := 0; y < H; y++ {
		o := out[y*W+x0 : (y+1)*W]
		lo, hi := row(y-r-1), row(y+r+1)
		lo, hi = lo[:len(o)], hi[:len(o)]
		switch r {
		case 0:
			c := row(y)[:len(o)]
			for x := range o {
				o[x] = float32(c[x]*ww) + float32((lo[x]+hi[x])*fw)
			}
		case 1:
			c0, c1, c2 := row(y - 1)[:len(o)], row(y)[:len(o)], row(y + 1)[:len(o)]
			for x := range o {
				o[x] = float32((c0[x]+c1[x]+c2[x])*ww) + float32((lo[x]+hi[x])*fw)
			}
		case 2:
			c0, c1, c2, c3, c4 := row(y - 2)[:len(o)], row(y - 1)[:len(o)], row(y)[:len(o)], row(y + 1)[:len(o)], row(y + 2)[:len(o)]
			for x := range o {
				o[x] = float32((c0[x]+c1[x]+c2[x]+c3[x]+c4[x])*ww) + float32((lo[x]+hi[x])*fw)
			}
		default:
			copy(o, row(y-r))
			for k := y - r + 1; k <= y+r; k++ {
				c := row(k)[:len(o)]
				for x := range o {
					o[x] += c[x]
				}
			}
			for x := range o {
				o[x] = float32(o[x]*ww) + float32((lo[x]+hi[x])*fw)
			}
		}
	}
}

// ImageNet normalisation constants.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// normalizeInto writes (t − mean)/std into dst.
func normalizeInto(dst []float32, t CHW, mean, std [3]float32) {
	n := t.H * t.W
	for c := 0; c < 3; c++ {
		normalizeRows(dst[c*n:(c+1)*n], t.plane(c), t.W, mean[c], std[c], false)
	}
}

// normalizeRows writes (v − m)/sd for the rows of width W in src into
// dst, each row mirrored when flip is set. The division is a multiply
// by 1/sd (exact when sd is 1).
func normalizeRows(dst, src []float32, W int, m, sd float32, flip bool) {
	inv := 1 / sd
	dst = dst[:len(src)]
	if !flip {
		if n8 := len(src) &^ 7; useAVX2 && n8 > 0 {
			normalizeAVX2(&dst[0], &src[0], n8, m, inv)
			dst, src = dst[n8:], src[n8:]
		}
		for i, v := range src {
			dst[i] = (v - m) * inv
		}
		return
	}
	for y := 0; y+W <= len(src); y += W {
		s, d := src[y:y+W], dst[y:y+W]
		x0 := 0
		if n8 := W &^ 7; useAVX2 && n8 > 0 {
			normalizeFlipAVX2(&d[W-8], &s[0], n8, m, inv)
			x0 = n8
		}
		for x := x0; x < W; x++ {
			d[W-1-x] = (s[x] - m) * inv
		}
	}
}
