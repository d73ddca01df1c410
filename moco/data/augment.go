package data

import "fmt"

// Transform turns one decoded image into Views() normalised float32
// images of 3×Size()×Size() (CHW). Apply must take every random choice
// from rng and keep its working buffers in s.
type Transform interface {
	Views() int
	Size() int
	Apply(dst [][]float32, img *Image, rng *RNG, s *Scratch) error
}

// ViewParams are the probabilities and ranges of one MoCo v3 view.
type ViewParams struct {
	Scale, Ratio [2]float64 // RandomResizedCrop
	JitterP      float64    // RandomApply(ColorJitter) probability
	Brightness   float64    // ColorJitter strengths
	Contrast     float64
	Saturation   float64
	Hue          float64
	GrayP        float64    // RandomGrayscale
	BlurP        float64    // RandomApply(GaussianBlur)
	BlurSigma    [2]float64 // σ range of the blur
	SolarizeP    float64
	FlipP        float64
}

// MoCoV3View1 and MoCoV3View2 are the two views of the official
// main_moco.py (augmentation1 and augmentation2, crop_min 0.08).
var (
	MoCoV3View1 = ViewParams{
		Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3},
		JitterP: 0.8, Brightness: 0.4, Contrast: 0.4, Saturation: 0.2, Hue: 0.1,
		GrayP: 0.2, BlurP: 1.0, BlurSigma: [2]float64{0.1, 2.0}, SolarizeP: 0, FlipP: 0.5,
	}
	MoCoV3View2 = ViewParams{
		Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3},
		JitterP: 0.8, Brightness: 0.4, Contrast: 0.4, Saturation: 0.2, Hue: 0.1,
		GrayP: 0.2, BlurP: 0.1, BlurSigma: [2]float64{0.1, 2.0}, SolarizeP: 0.2, FlipP: 0.5,
	}
)

// ViewTrace records the random choices made for one view (for tests and
// debugging).
type ViewTrace struct {
	Crop                 Crop
	Jitter               bool
	Order                [4]int // 0 brightness, 1 contrast, 2 saturation, 3 hue
	B, C, S, H           float64
	Gray, Blur, Solarize bool
	Sigma                float64
	Flip                 bool
}

// TwoViews is the MoCo v3 pretraining transform: two independently
// augmented views of each image.
type TwoViews struct {
	Out       int                      // output size (224 for ImageNet, 32 for CIFAR)
	V1, V2    ViewParams               // MoCoV3View1, MoCoV3View2
	Mean, Std [3]float32               // ImageNetMean, ImageNetStd
	Trace     func(v int, t ViewTrace) // optional, called per view
}

// NewMoCoV3 returns the official MoCo v3 two-view transform at size out.
func NewMoCoV3(out int) *TwoViews {
	return &TwoViews{Out: out, V1: MoCoV3View1, V2: MoCoV3View2, Mean: ImageNetMean, Std: ImageNetStd}
}

func (t *TwoViews) Views() int { return 2 }
func (t *TwoViews) Size() int  { return t.Out }

// Apply writes view 1 into dst[0] and view 2 into dst[1].
func (t *TwoViews) Apply(dst [][]float32, img *Image, rng *RNG, s *Scratch) error {
	if err := checkApply(dst, 2, t.Out, img); err != nil {
		return err
	}
	for v, p := range [2]*ViewParams{&t.V1, &t.V2} {
		tr := AugmentView(dst[v], img, t.Out, p, t.Mean, t.Std, rng, s)
		if t.Trace != nil {
			t.Trace(v, tr)
		}
	}
	return nil
}

func checkApply(dst [][]float32, views, size int, img *Image) error {
	if !img.Valid() {
		return fmt.Errorf("data: invalid image %dx%dx%d with %d bytes", img.W, img.H, img.C, len(img.Pix))
	}
	if len(dst) < views {
		return fmt.Errorf("data: %d destination views, want %d", len(dst), views)
	}
	for _, d := range dst[:views] {
		if len(d) != 3*size*size {
			return fmt.Errorf("data: destination of %d floats, want 3×%d×%d", len(d), size, size)
		}
	}
	return nil
}

// AugmentView draws one view with parameters p from img into dst
// (normalised 3×out×out) and returns the choices made. The order of the
// random draws is: crop; jitter?; [order, b, c, s, h]; gray?; blur?;
// [σ]; solarize?; flip?.
//
// The random draws do not depend on the pixels, so they are all made
// first; the ops then run in the drawn order, but fused: every op that
// works pixel by pixel runs a few rows at a time while the rows are in
// cache, and a pass stops only where an op needs the whole image
// (contrast needs the mean luma of its input, the blur its
// neighbours). Grayscale, solarize, flip and the normalisation go into
// the last pass; after grayscale only one plane is blurred.
func AugmentView(dst []float32, img *Image, out int, p *ViewParams, mean, std [3]float32, rng *RNG, s *Scratch) ViewTrace {
	var tr ViewTrace
	tr.Crop = RandomResizedCropParams(rng, img.W, img.H, p.Scale, p.Ratio)
	var ops [6]pixOp
	nops := 0
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
			f := [4]float64{tr.B, tr.C, tr.S, tr.H}[op]
			ops[nops] = pixOp{kind: opKind(op), f: float32(f)}
			nops++
		}
	}
	if rng.Float64() < p.GrayP {
		tr.Gray = true
		ops[nops] = pixOp{kind: opGray}
		nops++
	}
	if rng.Float64() < p.BlurP {
		tr.Blur = true
		tr.Sigma = rng.Uniform(p.BlurSigma[0], p.BlurSigma[1])
	}
	if rng.Float64() < p.SolarizeP {
		tr.Solarize = true
	}
	if rng.Float64() < p.FlipP {
		tr.Flip = true
	}

	s.img = grow(s.img, 3*out*out)
	t := CHW{C: 3, H: out, W: out, Data: s.img}
	s.resizeInto(t, img, tr.Crop, out, out, 0, 0)
	// Passes up to each contrast op: the ops before it, then the luma
	// sum of their result.
	pending := ops[:nops]
	for k := range nops {
		if ops[k].kind == opContrast {
			done := nops - len(pending)
			ops[k].mean = lumaMean(runPixOps(t, ops[done:k], true), out*out)
			pending = ops[k:nops]
		}
	}
	if tr.Blur {
		runPixOps(t, pending, false)
		pending = nil
		if tr.Gray {
			s.blurPlane(t.plane(0), out, out, tr.Sigma)
			copy(t.plane(1), t.plane(0))
			copy(t.plane(2), t.plane(0))
		} else {
			s.blur(t, tr.Sigma)
		}
	}
	// The last pass: the remaining ops, solarize, flip and normalise.
	rows := pixChunkRows(out)
	n := out * out
	for y := 0; y < out; y += rows {
		lo, hi := y*out, min(y+rows, out)*out
		r, g, b := t.Data[lo:hi], t.Data[n+lo:n+hi], t.Data[2*n+lo:2*n+hi]
		applyPixOps(pending, r, g, b)
		for c, pl := range [3][]float32{r, g, b} {
			if tr.Solarize {
				solarize(pl)
			}
			normalizeRows(dst[c*n+lo:c*n+hi], pl, out, mean[c], std[c], tr.Flip)
		}
	}
	return tr
}

type opKind uint8

// The kinds of pixOp; the first four are ColorJitter's op numbers.
const (
	opBrightness opKind = iota
	opContrast
	opSaturation
	opHue
	opGray
)

// pixOp is one colour op with its factor (and, for contrast, the mean
// luma of its input).
type pixOp struct {
	kind    opKind
	f, mean float32
}

// pixChunkRows is how many rows of a W-wide image make one chunk of
// the fused passes: about 256 pixels, 3 KiB over the three planes.
func pixChunkRows(W int) int { return max(1, 256/W) }

// runPixOps applies ops to t a chunk of rows at a time and, if sum is
// set, returns the float64 luma sum of the result.
func runPixOps(t CHW, ops []pixOp, sum bool) float64 {
	if len(ops) == 0 && !sum {
		return 0
	}
	n := t.H * t.W
	rows := pixChunkRows(t.W)
	total := 0.0
	for y := 0; y < t.H; y += rows {
		lo, hi := y*t.W, min(y+rows, t.H)*t.W
		r, g, b := t.Data[lo:hi], t.Data[n+lo:n+hi], t.Data[2*n+lo:2*n+hi]
		applyPixOps(ops, r, g, b)
		if sum {
			total += lumaSum(r, g, b)
		}
	}
	return total
}

func applyPixOps(ops []pixOp, r, g, b []float32) {
	for _, op := range ops {
		switch op.kind {
		case opBrightness:
			brightness(r, g, b, op.f)
		case opContrast:
			contrast(r, g, b, op.f, op.mean)
		case opSaturation:
			saturation(r, g, b, op.f)
		case opHue:
			hue(r, g, b, op.f)
		case opGray:
			grayscale(r, g, b)
		}
	}
}

// EvalTransform is the validation transform: resize the shorter side to
// Resize (default Size·256/224, truncated) keeping the aspect ratio,
// center crop Size×Size, normalise. One view.
type EvalTransform struct {
	Out, Resize int
	Mean, Std   [3]float32
}

// NewEval returns the eval transform at output size out (Resize 0 means
// int(out·256/224)).
func NewEval(out int) *EvalTransform {
	return &EvalTransform{Out: out, Mean: ImageNetMean, Std: ImageNetStd}
}

func (t *EvalTransform) Views() int { return 1 }
func (t *EvalTransform) Size() int  { return t.Out }

// ResizeShorter is torchvision's output size for Resize(int): the
// shorter side becomes r and the longer int(r·long/short).
func ResizeShorter(w, h, r int) (nw, nh int) {
	if w <= h {
		return r, int(float64(r) * float64(h) / float64(w))
	}
	return int(float64(r) * float64(w) / float64(h)), r
}

// Apply resizes, center-crops and normalises img into dst[0]. rng is
// not used.
func (t *EvalTransform) Apply(dst [][]float32, img *Image, rng *RNG, s *Scratch) error {
	if err := checkApply(dst, 1, t.Out, img); err != nil {
		return err
	}
	r := t.Resize
	if r == 0 {
		r = t.Out * 256 / 224
	}
	nw, nh := ResizeShorter(img.W, img.H, r)
	if nw < t.Out || nh < t.Out {
		return fmt.Errorf("data: eval transform: resized image %dx%d is smaller than the %d crop", nw, nh, t.Out)
	}
	top := pyRound(float64(nh-t.Out) / 2)
	left := pyRound(float64(nw-t.Out) / 2)
	s.img = grow(s.img, 3*t.Out*t.Out)
	c := CHW{C: 3, H: t.Out, W: t.Out, Data: s.img}
	s.resizeInto(c, img, Crop{0, 0, img.H, img.W}, nw, nh, left, top)
	normalizeInto(dst[0], c, t.Mean, t.Std)
	return nil
}

// LinearTrainTransform is the linear-probe training transform:
// RandomResizedCrop(Out, Scale, Ratio) + horizontal flip + normalise.
type LinearTrainTransform struct {
	Out          int
	Scale, Ratio [2]float64
	Mean, Std    [3]float32
}

// NewLinearTrain returns the linear-probe train transform (scale
// 0.08–1, ratio 3/4–4/3).
func NewLinearTrain(out int) *LinearTrainTransform {
	return &LinearTrainTransform{Out: out, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3}, Mean: ImageNetMean, Std: ImageNetStd}
}

func (t *LinearTrainTransform) Views() int { return 1 }
func (t *LinearTrainTransform) Size() int  { return t.Out }

// Apply draws the crop, then the flip.
func (t *LinearTrainTransform) Apply(dst [][]float32, img *Image, rng *RNG, s *Scratch) error {
	if err := checkApply(dst, 1, t.Out, img); err != nil {
		return err
	}
	p := ViewParams{Scale: t.Scale, Ratio: t.Ratio, FlipP: 0.5}
	AugmentView(dst[0], img, t.Out, &p, t.Mean, t.Std, rng, s)
	return nil
}
