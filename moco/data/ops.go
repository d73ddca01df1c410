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
// weights w[o*k:].
type resampleCoeffs struct {
	k     int
	start []int32
	n     []int32
	w     []float32
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
		center := (float64(o) + 0.5) * scale
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
			t := math.Abs((float64(x+xmin) - center + 0.5) * ss)
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
	tmp    []float32 // horizontal pass output
	img    []float32 // 3×S×S working image
	aux    []float32 // blur / hsv scratch
	pad    []float32
}

// resizeInto resamples the crop c of src to outW×outH (the full output)
// and writes the output window rows oy…oy+dst.H, columns ox…ox+dst.W into
// dst (3 channels, values in [0, 1]). A 1-channel source is replicated to
// 3 channels. It is PIL's antialiased bilinear resize of the cropped
// image, computed in float32 without intermediate rounding.
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
	s.tmp = grow(s.tmp, C*nr*dst.W)
	// Horizontal pass: crop rows y0…y1 → tmp[c][r][x], in pixel units.
	for r := 0; r < nr; r++ {
		sy := c.Top + y0 + r
		srow := src.Pix[(sy*src.W+c.Left)*C : (sy*src.W+c.Left+c.W)*C]
		for x := 0; x < dst.W; x++ {
			o := x
			st, n := int(s.cx.start[o]), int(s.cx.n[o])
			w := s.cx.w[o*s.cx.k : o*s.cx.k+n]
			if C == 1 {
				acc := float32(0)
				for k, wk := range w {
					acc += wk * float32(srow[st+k])
				}
				s.tmp[r*dst.W+x] = acc
				continue
			}
			var a0, a1, a2 float32
			for k, wk := range w {
				p := (st + k) * 3
				a0 += wk * float32(srow[p])
				a1 += wk * float32(srow[p+1])
				a2 += wk * float32(srow[p+2])
			}
			s.tmp[(0*nr+r)*dst.W+x] = a0
			s.tmp[(1*nr+r)*dst.W+x] = a1
			s.tmp[(2*nr+r)*dst.W+x] = a2
		}
	}
	// Vertical pass: tmp → dst, scaled to [0, 1].
	for ch := 0; ch < C; ch++ {
		tp := s.tmp[ch*nr*dst.W : (ch+1)*nr*dst.W]
		out := dst.plane(ch)
		for y := 0; y < dst.H; y++ {
			o := y
			st, n := int(s.cy.start[o])-y0, int(s.cy.n[o])
			w := s.cy.w[o*s.cy.k : o*s.cy.k+n]
			orow := out[y*dst.W : (y+1)*dst.W]
			for x := range orow {
				orow[x] = 0
			}
			for k, wk := range w {
				irow := tp[(st+k)*dst.W : (st+k+1)*dst.W]
				for x, v := range irow {
					orow[x] += wk * v
				}
			}
			for x := range orow {
				orow[x] /= 255
			}
		}
	}
	if C == 1 {
		copy(dst.plane(1), dst.plane(0))
		copy(dst.plane(2), dst.plane(0))
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

func clamp01(x float32) float32 {
	if x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

// Luma coefficients of torchvision's rgb_to_grayscale (ITU-R 601-2).
const (
	lumaR = float32(0.2989)
	lumaG = float32(0.587)
	lumaB = float32(0.114)
)

// AdjustBrightness blends with black: x·f, clamped to [0, 1].
func AdjustBrightness(t CHW, f float64) {
	ff := float32(f)
	for i, v := range t.Data {
		t.Data[i] = clamp01(ff * v)
	}
}

// AdjustContrast blends with the mean of the grayscale image.
func AdjustContrast(t CHW, f float64) {
	r, g, b := t.plane(0), t.plane(1), t.plane(2)
	sum := 0.0
	for i := range r {
		sum += float64(lumaR*r[i] + lumaG*g[i] + lumaB*b[i])
	}
	mean := float32(sum / float64(len(r)))
	ff := float32(f)
	rest := (1 - ff) * mean
	for i, v := range t.Data {
		t.Data[i] = clamp01(ff*v + rest)
	}
}

// AdjustSaturation blends with the grayscale image.
func AdjustSaturation(t CHW, f float64) {
	r, g, b := t.plane(0), t.plane(1), t.plane(2)
	ff := float32(f)
	for i := range r {
		gr := (1 - ff) * (lumaR*r[i] + lumaG*g[i] + lumaB*b[i])
		r[i] = clamp01(ff*r[i] + gr)
		g[i] = clamp01(ff*g[i] + gr)
		b[i] = clamp01(ff*b[i] + gr)
	}
}

// Grayscale replaces every channel by the luma.
func Grayscale(t CHW) {
	r, g, b := t.plane(0), t.plane(1), t.plane(2)
	for i := range r {
		l := lumaR*r[i] + lumaG*g[i] + lumaB*b[i]
		r[i], g[i], b[i] = l, l, l
	}
}

// AdjustHue shifts the hue by f (a fraction of the colour circle, in
// [-0.5, 0.5]) in HSV space, with torchvision's _rgb2hsv and _hsv2rgb.
func AdjustHue(t CHW, f float64) {
	r, g, b := t.plane(0), t.plane(1), t.plane(2)
	ff := float32(f)
	for i := range r {
		R, G, B := r[i], g[i], b[i]
		maxc := max(R, G, B)
		minc := min(R, G, B)
		cr := maxc - minc
		var s, h float32
		if maxc != minc {
			s = cr / maxc
			rc := (maxc - R) / cr
			gc := (maxc - G) / cr
			bc := (maxc - B) / cr
			switch {
			case maxc == R:
				h = bc - gc
			case maxc == G:
				h = 2 + rc - bc
			default:
				h = 4 + gc - rc
			}
			// h ∈ [-1, 5], so h/6+1 ∈ [5/6, 11/6]: fmod(·, 1) is one
			// exact subtraction.
			h = h/6 + 1
			if h >= 1 {
				h -= 1
			}
		}
		v := maxc
		// (h + f) mod 1 for h ∈ [0, 1), f ∈ [-0.5, 0.5].
		h += ff
		if h < 0 {
			h += 1
		} else if h >= 1 {
			h -= 1
		}
		h6 := h * 6
		fi := float32(int32(h6)) // h6 ≥ 0: truncation is floor
		fr := h6 - fi
		p := clamp01(v * (1 - s))
		q := clamp01(v * (1 - s*fr))
		tt := clamp01(v * (1 - s*(1-fr)))
		switch ((int(fi) % 6) + 6) % 6 {
		case 0:
			r[i], g[i], b[i] = v, tt, p
		case 1:
			r[i], g[i], b[i] = q, v, p
		case 2:
			r[i], g[i], b[i] = p, v, tt
		case 3:
			r[i], g[i], b[i] = p, q, v
		case 4:
			r[i], g[i], b[i] = tt, p, v
		default:
			r[i], g[i], b[i] = v, p, q
		}
	}
}

// solarizeThreshold is 128 on the 0…255 scale, computed as ToTensor
// computes 128/255.
var solarizeThreshold = float32(128) / float32(255)

// Solarize inverts values at or above 128/255 (PIL ImageOps.solarize
// with threshold 128).
func Solarize(t CHW) {
	for i, v := range t.Data {
		if v >= solarizeThreshold {
			t.Data[i] = 1 - v
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
	L := math.Sqrt(12*s2 + 1)
	l := math.Floor((L - 1) / 2)
	a := (2*l + 1) * (l*(l+1) - 3*s2)
	a /= 6 * (s2 - (l+1)*(l+1))
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

func (s *Scratch) blur(t CHW, sigma float64) {
	if sigma <= 0 {
		return
	}
	rho := boxBlurRadius(sigma, 3)
	r := int(rho)
	ww := float32(1 / (2*rho + 1))
	fw := (1 - float32(2*r+1)*ww) / 2
	W, H := t.W, t.H
	s.pad = grow(s.pad, max(W, H)+2*r+2)
	s.aux = grow(s.aux, W*H)
	for c := 0; c < t.C; c++ {
		p := t.plane(c)
		// Rows.
		for y := 0; y < H; y++ {
			row := p[y*W : (y+1)*W]
			for pass := 0; pass < 3; pass++ {
				pad := s.pad[:W+2*r+2]
				copy(pad[r+1:], row)
				for i := 0; i <= r; i++ {
					pad[i] = row[0]
					pad[W+r+1+i] = row[W-1]
				}
				for x := range row {
					// pad[x+r+1] is row[x].
					acc := float32(0)
					for k := x + 1; k <= x+2*r+1; k++ {
						acc += pad[k]
					}
					row[x] = acc*ww + (pad[x]+pad[x+2*r+2])*fw
				}
			}
		}
		// Columns, whole rows at a time: aux ← p, p ← blur(aux).
		for pass := 0; pass < 3; pass++ {
			copy(s.aux, p)
			for y := 0; y < H; y++ {
				out := p[y*W : (y+1)*W]
				for x := range out {
					out[x] = 0
				}
				for k := y - r; k <= y+r; k++ {
					in := s.aux[min(max(k, 0), H-1)*W:][:W]
					for x, v := range in {
						out[x] += v
					}
				}
				lo := s.aux[min(max(y-r-1, 0), H-1)*W:][:W]
				hi := s.aux[min(max(y+r+1, 0), H-1)*W:][:W]
				for x := range out {
					out[x] = out[x]*ww + (lo[x]+hi[x])*fw
				}
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
		src := t.plane(c)
		d := dst[c*n : (c+1)*n]
		m, sd := mean[c], std[c]
		for i, v := range src {
			d[i] = (v - m) / sd
		}
	}
}
