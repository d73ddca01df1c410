package data

// The augmentation as it was before the optimised kernels (commit
// 939f729), kept verbatim as the reference that the fast paths are
// tested against: one pass per op, PIL's blur pass by pass, the resize
// with a division by 255 at the end.

import "math"

type refScratch struct {
	cx, cy refResampleCoeffs
	tmp    []float32
	img    []float32
	aux    []float32
	pad    []float32
}

type refResampleCoeffs struct {
	k     int
	start []int32
	n     []int32
	w     []float32
}

// compute fills the coefficients of outputs o0…o0+count-1 (stored from
// index 0) of an inSize → outSize resize.
func (rc *refResampleCoeffs) compute(inSize, outSize, o0, count int) {
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

func refClamp01(x float32) float32 {
	if x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

func (s *refScratch) resizeInto(dst CHW, src *Image, c Crop, outW, outH, ox, oy int) {
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
					acc += float32(wk * float32(srow[st+k]))
				}
				s.tmp[r*dst.W+x] = acc
				continue
			}
			var a0, a1, a2 float32
			for k, wk := range w {
				p := (st + k) * 3
				a0 += float32(wk * float32(srow[p]))
				a1 += float32(wk * float32(srow[p+1]))
				a2 += float32(wk * float32(srow[p+2]))
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

func refAdjustBrightness(t CHW, f float64) {
	ff := float32(f)
	for i, v := range t.Data {
		t.Data[i] = refClamp01(ff * v)
	}
}

func refAdjustContrast(t CHW, f float64) {
	r, g, b := t.plane(0), t.plane(1), t.plane(2)
	sum := 0.0
	for i := range r {
		sum += float64(float32(lumaR*r[i]) + float32(lumaG*g[i]) + float32(lumaB*b[i]))
	}
	mean := float32(sum / float64(len(r)))
	ff := float32(f)
	rest := float32((1 - ff) * mean)
	for i, v := range t.Data {
		t.Data[i] = refClamp01(float32(ff*v) + rest)
	}
}

func refAdjustSaturation(t CHW, f float64) {
	r, g, b := t.plane(0), t.plane(1), t.plane(2)
	ff := float32(f)
	for i := range r {
		gr := float32((1 - ff) * (float32(lumaR*r[i]) + float32(lumaG*g[i]) + float32(lumaB*b[i])))
		r[i] = refClamp01(float32(ff*r[i]) + gr)
		g[i] = refClamp01(float32(ff*g[i]) + gr)
		b[i] = refClamp01(float32(ff*b[i]) + gr)
	}
}

func refGrayscale(t CHW) {
	r, g, b := t.plane(0), t.plane(1), t.plane(2)
	for i := range r {
		l := float32(lumaR*r[i]) + float32(lumaG*g[i]) + float32(lumaB*b[i])
		r[i], g[i], b[i] = l, l, l
	}
}

func refAdjustHue(t CHW, f float64) {
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
		p := refClamp01(v * (1 - s))
		q := refClamp01(v * (1 - s*fr))
		tt := refClamp01(v * (1 - s*(1-fr)))
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

func refSolarize(t CHW) {
	for i, v := range t.Data {
		if v >= solarizeThreshold {
			t.Data[i] = 1 - v
		}
	}
}

func refFlipH(t CHW) {
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

func (s *refScratch) blur(t CHW, sigma float64) {
	if sigma <= 0 {
		return
	}
	rho := boxBlurRadius(sigma, 3)
	r := int(rho)
	ww := float32(1 / (2*rho + 1))
	fw := (1 - float32(float32(2*r+1)*ww)) / 2
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
					// (Products rounded before the add, as in ops.go:
					// no fused multiply-add under GOAMD64=v3.)
					row[x] = float32(acc*ww) + float32((pad[x]+pad[x+2*r+2])*fw)
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
					out[x] = float32(out[x]*ww) + float32((lo[x]+hi[x])*fw)
				}
			}
		}
	}
}

func refNormalizeInto(dst []float32, t CHW, mean, std [3]float32) {
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

func refAugmentView(dst []float32, img *Image, out int, p *ViewParams, mean, std [3]float32, rng *RNG, s *refScratch) ViewTrace {
	var tr ViewTrace
	s.img = grow(s.img, 3*out*out)
	t := CHW{C: 3, H: out, W: out, Data: s.img}
	tr.Crop = RandomResizedCropParams(rng, img.W, img.H, p.Scale, p.Ratio)
	s.resizeInto(t, img, tr.Crop, out, out, 0, 0)
	if rng.Float64() < p.JitterP {
		tr.Jitter = true
		var perm [4]int
		rng.Perm(perm[:])
		tr.Order = perm
		tr.B = rng.Uniform(max(0, 1-p.Brightness), 1+p.Brightness)
		tr.C = rng.Uniform(max(0, 1-p.Contrast), 1+p.Contrast)
		tr.S = rng.Uniform(max(0, 1-p.Saturation), 1+p.Saturation)
		tr.H = rng.Uniform(-p.Hue, p.Hue)
		for _, op := range perm {
			switch op {
			case 0:
				refAdjustBrightness(t, tr.B)
			case 1:
				refAdjustContrast(t, tr.C)
			case 2:
				refAdjustSaturation(t, tr.S)
			case 3:
				refAdjustHue(t, tr.H)
			}
		}
	}
	if rng.Float64() < p.GrayP {
		tr.Gray = true
		refGrayscale(t)
	}
	if rng.Float64() < p.BlurP {
		tr.Blur = true
		tr.Sigma = rng.Uniform(p.BlurSigma[0], p.BlurSigma[1])
		s.blur(t, tr.Sigma)
	}
	if rng.Float64() < p.SolarizeP {
		tr.Solarize = true
		refSolarize(t)
	}
	if rng.Float64() < p.FlipP {
		tr.Flip = true
		refFlipH(t)
	}
	refNormalizeInto(dst, t, mean, std)
	return tr
}
