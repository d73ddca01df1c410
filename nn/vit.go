package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mocogo/mocogo/engine"
)

// Attention is timm's multi-head self-attention: one qkv Linear with bias
// laid out [3, heads, headDim] along its output, the fused attention, then
// the output projection.
type Attention struct {
	QKV, Proj *Linear
	Heads     int
}

// NewAttention follows MoCo v3's init: qkv drawn as if Q, K and V were
// three dim×dim matrices (bound √(6/(dim+dim))), proj xavier, biases zero.
func NewAttention(e *engine.Engine, prefix string, dim, heads int, rng *rand.Rand) *Attention {
	return &Attention{
		QKV:   NewLinear(e, join(prefix, "qkv"), dim, 3*dim, true, XavierBound(dim, dim), rng),
		Proj:  NewLinear(e, join(prefix, "proj"), dim, dim, true, XavierBound(dim, dim), rng),
		Heads: heads,
	}
}

// Forward maps tokens [B, N, D] to [B, N, D].
func (a *Attention) Forward(x *engine.Tensor) *engine.Tensor {
	return a.Proj.Forward(engine.Attention(a.QKV.Forward(x), a.Heads))
}

func (a *Attention) Parameters() []Named { return append(a.QKV.Parameters(), a.Proj.Parameters()...) }
func (a *Attention) StateDict() []Named  { return a.Parameters() }
func (a *Attention) Train(bool)          {}

// FeedForward is timm's Mlp: fc1, exact GELU, fc2 (keys mlp.fc1, mlp.fc2).
type FeedForward struct {
	FC1, FC2 *Linear
}

// NewFeedForward makes dim → hidden → dim with xavier weights, zero biases.
func NewFeedForward(e *engine.Engine, prefix string, dim, hidden int, rng *rand.Rand) *FeedForward {
	return &FeedForward{
		FC1: NewLinear(e, join(prefix, "fc1"), dim, hidden, true, XavierBound(dim, hidden), rng),
		FC2: NewLinear(e, join(prefix, "fc2"), hidden, dim, true, XavierBound(hidden, dim), rng),
	}
}

func (f *FeedForward) Forward(x *engine.Tensor) *engine.Tensor {
	return f.FC2.Forward(engine.GELU(f.FC1.Forward(x)))
}
func (f *FeedForward) Parameters() []Named { return append(f.FC1.Parameters(), f.FC2.Parameters()...) }
func (f *FeedForward) StateDict() []Named  { return f.Parameters() }
func (f *FeedForward) Train(bool)          {}

// Block is a pre-norm transformer block:
// x += attn(norm1(x)); x += mlp(norm2(x)).
type Block struct {
	Norm1 *LayerNorm
	Attn  *Attention
	Norm2 *LayerNorm
	MLP   *FeedForward
}

// NewBlock makes blocks.{i} given its prefix.
func NewBlock(e *engine.Engine, prefix string, dim, heads, hidden int, eps float64, rng *rand.Rand) *Block {
	// Draw in module order (norm1, attn, norm2, mlp) so a seed fixes the
	// weights whatever the order of the struct's fields.
	b := &Block{Norm1: NewLayerNorm(e, join(prefix, "norm1"), dim, eps)}
	b.Attn = NewAttention(e, join(prefix, "attn"), dim, heads, rng)
	b.Norm2 = NewLayerNorm(e, join(prefix, "norm2"), dim, eps)
	b.MLP = NewFeedForward(e, join(prefix, "mlp"), dim, hidden, rng)
	return b
}

// Forward maps tokens [B, N, D] to [B, N, D]. The projections that end
// each half write straight into the residual stream (engine.LinearAdd,
// engine.FeedForward): the same values as adding the sub-layers' outputs,
// with fewer activations kept for Backward.
func (b *Block) Forward(x *engine.Tensor) *engine.Tensor {
	a := b.Attn
	attn := engine.Attention(a.QKV.Forward(b.Norm1.Forward(x)), a.Heads)
	x = engine.LinearAdd(attn, a.Proj.Weight, a.Proj.Bias, x)
	f := b.MLP
	return engine.FeedForward(b.Norm2.Forward(x), f.FC1.Weight, f.FC1.Bias, f.FC2.Weight, f.FC2.Bias, x)
}

func (b *Block) Parameters() []Named {
	var ps []Named
	ps = append(ps, b.Norm1.Parameters()...)
	ps = append(ps, b.Attn.Parameters()...)
	ps = append(ps, b.Norm2.Parameters()...)
	return append(ps, b.MLP.Parameters()...)
}
func (b *Block) StateDict() []Named { return b.Parameters() }
func (b *Block) Train(bool)         {}

// Config describes a ViT. The zero value of every optional field is the
// MoCo v3 choice.
type Config struct {
	ImageSize int // square images
	PatchSize int
	Channels  int // 0 means 3
	Dim       int
	Depth     int
	Heads     int
	MLPRatio  float64 // 0 means 4
	Eps       float64 // LayerNorm eps, 0 means 1e-6
	// TrainPatchEmbed makes the patch projection trainable; false is
	// MoCo v3's stop-grad-conv1 (a frozen random projection).
	TrainPatchEmbed bool
}

// ViTTiny is 192 wide, 12 deep, 3 heads.
func ViTTiny(img, patch int) Config {
	return Config{ImageSize: img, PatchSize: patch, Dim: 192, Depth: 12, Heads: 3}
}

// ViTSmall is MoCo v3's ViT-S: 384 wide, 12 deep, 12 heads (not DeiT's 6).
func ViTSmall(img, patch int) Config {
	return Config{ImageSize: img, PatchSize: patch, Dim: 384, Depth: 12, Heads: 12}
}

// ViTBase is 768 wide, 12 deep, 12 heads.
func ViTBase(img, patch int) Config {
	return Config{ImageSize: img, PatchSize: patch, Dim: 768, Depth: 12, Heads: 12}
}

// Preset returns the named configuration: vit_tiny, vit_small or vit_base.
func Preset(name string, img, patch int) (Config, error) {
	switch name {
	case "vit_tiny":
		return ViTTiny(img, patch), nil
	case "vit_small":
		return ViTSmall(img, patch), nil
	case "vit_base":
		return ViTBase(img, patch), nil
	}
	return Config{}, fmt.Errorf("nn: unknown ViT preset %q (want vit_tiny, vit_small or vit_base)", name)
}

func (c Config) withDefaults() Config {
	if c.Channels == 0 {
		c.Channels = 3
	}
	if c.MLPRatio == 0 {
		c.MLPRatio = 4
	}
	if c.Eps == 0 {
		c.Eps = 1e-6
	}
	return c
}

// StateShapes lists the backbone's state-dict entries (timm's names, in
// StateDict's order) with their shapes, without building anything: what
// a file must hold to load into a ViT of this config.
func (c Config) StateShapes() []NamedShape {
	c = c.withDefaults()
	D, g, H := c.Dim, c.Grid(), c.Hidden()
	out := []NamedShape{
		{"cls_token", []int{1, 1, D}},
		{"pos_embed", []int{1, 1 + g*g, D}},
		{"patch_embed.proj.weight", []int{D, c.Channels, c.PatchSize, c.PatchSize}},
		{"patch_embed.proj.bias", []int{D}},
	}
	for i := 0; i < c.Depth; i++ {
		p := fmt.Sprintf("blocks.%d.", i)
		out = append(out,
			NamedShape{p + "norm1.weight", []int{D}}, NamedShape{p + "norm1.bias", []int{D}},
			NamedShape{p + "attn.qkv.weight", []int{3 * D, D}}, NamedShape{p + "attn.qkv.bias", []int{3 * D}},
			NamedShape{p + "attn.proj.weight", []int{D, D}}, NamedShape{p + "attn.proj.bias", []int{D}},
			NamedShape{p + "norm2.weight", []int{D}}, NamedShape{p + "norm2.bias", []int{D}},
			NamedShape{p + "mlp.fc1.weight", []int{H, D}}, NamedShape{p + "mlp.fc1.bias", []int{H}},
			NamedShape{p + "mlp.fc2.weight", []int{D, H}}, NamedShape{p + "mlp.fc2.bias", []int{D}})
	}
	return append(out, NamedShape{"norm.weight", []int{D}}, NamedShape{"norm.bias", []int{D}})
}

// NamedShape is a state-dict entry's name and shape.
type NamedShape struct {
	Name  string
	Shape []int
}

// Normalized returns c with its zero optional fields set to their
// defaults, so that two configs of one model compare equal.
func (c Config) Normalized() Config { return c.withDefaults() }

// Validate reports what is wrong with the configuration.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.ImageSize <= 0 || c.PatchSize <= 0 || c.Dim <= 0 || c.Depth < 0 || c.Heads <= 0 || c.Channels <= 0 || c.MLPRatio <= 0 || c.Eps <= 0 {
		errs = append(errs, fmt.Errorf("sizes must be positive: %+v", c))
	} else {
		if c.ImageSize%c.PatchSize != 0 {
			errs = append(errs, fmt.Errorf("image size %d is not a multiple of patch size %d", c.ImageSize, c.PatchSize))
		}
		if c.Dim%c.Heads != 0 {
			errs = append(errs, fmt.Errorf("dim %d is not a multiple of heads %d", c.Dim, c.Heads))
		}
		if c.Dim%4 != 0 {
			errs = append(errs, fmt.Errorf("dim %d is not a multiple of 4, which the 2D sin-cos position embedding needs", c.Dim))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("nn: ViT config: %w", errors.Join(errs...))
	}
	return nil
}

// Grid is the number of patches along a side.
func (c Config) Grid() int { return c.ImageSize / c.PatchSize }

// Hidden is the width of the blocks' MLP.
func (c Config) Hidden() int { c = c.withDefaults(); return int(float64(c.Dim) * c.MLPRatio) }

// ViT is MoCo v3's vision transformer: a patch projection (frozen by
// default), a cls token, a fixed 2D sin-cos position embedding, pre-norm
// blocks and a final LayerNorm; the feature is the cls token.
type ViT struct {
	Config   Config
	PatchW   *engine.Tensor // patch_embed.proj.weight [D, C, p, p]
	PatchB   *engine.Tensor // patch_embed.proj.bias [D]
	ClsToken *engine.Tensor // cls_token [1, 1, D]
	PosEmbed *engine.Tensor // pos_embed [1, 1+L, D], fixed
	Blocks   []*Block
	Norm     *LayerNorm
}

// NewViT builds a ViT with MoCo v3's init drawn from rng: xavier_uniform
// for every Linear (qkv as three D×D matrices), zero biases, the patch
// projection from U(±√(6/(C·p²+D))) with zero bias, cls token N(0, 1e-6²),
// LayerNorms weight 1 bias 0.
func NewViT(e *engine.Engine, cfg Config, rng *rand.Rand) (*ViT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	D, C, p, g := cfg.Dim, cfg.Channels, cfg.PatchSize, cfg.Grid()
	v := &ViT{Config: cfg}
	// Draw order: patch projection, cls token, blocks in order.
	bound := math.Sqrt(6 / float64(C*p*p+D))
	v.PatchW = newParam(e, "patch_embed.proj.weight", Uniform(rng, D*C*p*p, bound), D, C, p, p)
	v.PatchB = newParam(e, "patch_embed.proj.bias", make([]float64, D), D)
	if !cfg.TrainPatchEmbed {
		v.PatchW.SetRequiresGrad(false)
		v.PatchB.SetRequiresGrad(false)
	}
	v.ClsToken = newParam(e, "cls_token", Normal(rng, D, 1e-6), 1, 1, D)
	v.PosEmbed = newBuffer(e, "pos_embed", SinCosPosEmbed(g, D), 1, 1+g*g, D)
	for i := 0; i < cfg.Depth; i++ {
		v.Blocks = append(v.Blocks, NewBlock(e, fmt.Sprintf("blocks.%d", i), D, cfg.Heads, cfg.Hidden(), cfg.Eps, rng))
	}
	v.Norm = NewLayerNorm(e, "norm", D, cfg.Eps)
	return v, nil
}

// Tokens runs images [B, C, H, W] through the whole backbone and returns
// the normalised tokens [B, 1+L, D], cls first.
func (v *ViT) Tokens(images *engine.Tensor) *engine.Tensor {
	cfg := v.Config
	if images.Rank() != 4 || images.Dim(1) != cfg.Channels || images.Dim(2) != cfg.ImageSize || images.Dim(3) != cfg.ImageSize {
		panic(fmt.Sprintf("nn.ViT: images %v, want [B, %d, %d, %d]", images.Shape(), cfg.Channels, cfg.ImageSize, cfg.ImageSize))
	}
	B, D, C, p := images.Dim(0), cfg.Dim, cfg.Channels, cfg.PatchSize
	e := images.Engine()
	// Patch embedding: a stride-p convolution is one MatMul on patches.
	embed := func() *engine.Tensor {
		x := engine.MatMul(engine.Patchify(images, p), engine.Reshape(v.PatchW, D, C*p*p), false, true)
		return engine.Add(x, v.PatchB) // [B, L, D]
	}
	var x *engine.Tensor
	if v.PatchW.RequiresGrad() || v.PatchB.RequiresGrad() || images.RequiresGrad() {
		x = embed()
	} else {
		// Frozen (MoCo v3's stop-grad on the patch projection): nothing
		// here needs a gradient, so the patches go back at once.
		x = e.Detached(func() []*engine.Tensor { return []*engine.Tensor{embed()} })[0]
	}
	// The cls token broadcast over the batch: zeros + cls row.
	cls := engine.Add(e.Zeros(B, 1, D), engine.Reshape(v.ClsToken, 1, D))
	x = engine.Concat(1, cls, x)
	x = engine.Add(x, engine.Reshape(v.PosEmbed, 1+cfg.Grid()*cfg.Grid(), D))
	if e.GradEnabled() {
		for _, b := range v.Blocks {
			x = b.Forward(x)
		}
		return v.Norm.Forward(x)
	}
	// Without a graph nothing needs a block's activations once its output
	// exists: give them back block by block, so a forward under NoGrad
	// (the momentum encoder, feature extraction) holds about one block's
	// worth of memory instead of the whole network's.
	for _, b := range v.Blocks {
		in := x
		x = e.Detached(func() []*engine.Tensor { return []*engine.Tensor{b.Forward(in)} })[0]
		e.Discard(in)
	}
	return v.Norm.Forward(x)
}

// Forward returns the cls-token feature [B, D] of images [B, C, H, W].
func (v *ViT) Forward(images *engine.Tensor) *engine.Tensor {
	x := v.Tokens(images)
	return engine.Reshape(engine.Slice(x, 1, 0, 1), x.Dim(0), v.Config.Dim)
}

// Parameters lists the backbone's parameters in timm's order; the patch
// projection and pos_embed are listed but do not require a gradient (the
// projection does when Config.TrainPatchEmbed).
func (v *ViT) Parameters() []Named {
	ps := []Named{
		{"cls_token", v.ClsToken},
		{"pos_embed", v.PosEmbed},
		{"patch_embed.proj.weight", v.PatchW},
		{"patch_embed.proj.bias", v.PatchB},
	}
	for _, b := range v.Blocks {
		ps = append(ps, b.Parameters()...)
	}
	return append(ps, v.Norm.Parameters()...)
}

// StateDict is Parameters: the backbone has no other buffers.
func (v *ViT) StateDict() []Named { return v.Parameters() }

// Train is a no-op: the ViT behaves the same in both modes.
func (v *ViT) Train(bool) {}

// SinCosPosEmbed returns MoCo v3's fixed position embedding for a
// grid×grid patch layout, [(1+grid²)·dim] flattened, cls slot zeros. With
// meshgrid "ij" indexing the first half uses the row: patch (r, c) gets
// [sin(r·ω), cos(r·ω), sin(c·ω), cos(c·ω)], ω_d = 1/10000^(d/(dim/4)).
// It rounds as PyTorch does in float32, so the values match torch's to
// the last bit or one.
func SinCosPosEmbed(grid, dim int) []float64 {
	if dim%4 != 0 {
		panic(fmt.Sprintf("nn.SinCosPosEmbed: dim %d is not a multiple of 4", dim))
	}
	q := dim / 4
	omega := make([]float32, q)
	for d := range omega {
		ex := float32(d) / float32(q)
		omega[d] = 1 / float32(math.Pow(10000, float64(ex)))
	}
	out := make([]float64, (1+grid*grid)*dim)
	for r := 0; r < grid; r++ {
		for c := 0; c < grid; c++ {
			row := out[(1+r*grid+c)*dim:][:dim]
			for d, w := range omega {
				ar := float64(float32(r) * w)
				ac := float64(float32(c) * w)
				row[d] = float64(float32(math.Sin(ar)))
				row[q+d] = float64(float32(math.Cos(ar)))
				row[2*q+d] = float64(float32(math.Sin(ac)))
				row[3*q+d] = float64(float32(math.Cos(ac)))
			}
		}
	}
	return out
}
