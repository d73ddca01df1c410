package moco

import (
	"fmt"
	"math"
	"time"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/nn"
)

// TrainConfig is the optimisation recipe of MoCo v3 (main_moco.py):
// AdamW, lr = BaseLR·BatchSize/256 with a linear warmup then a cosine
// decay set every iteration, and the momentum coefficient raised from
// MomentumBase to 1 along a half cosine.
type TrainConfig struct {
	Epochs       int
	BatchSize    int
	BaseLR       float64 // 1.5e-4 for ViT
	WarmupEpochs float64 // 40 of 300 in the paper
	WeightDecay  float64 // 0.1
	MomentumBase float64 // 0.99
}

// DefaultTrainConfig is the paper's ViT recipe for the given length.
func DefaultTrainConfig(epochs, batch int) TrainConfig {
	return TrainConfig{Epochs: epochs, BatchSize: batch, BaseLR: 1.5e-4, WarmupEpochs: float64(epochs) * 40 / 300, WeightDecay: 0.1, MomentumBase: 0.99}
}

// Validate reports a recipe that cannot train.
func (c TrainConfig) Validate() error {
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("moco: epochs must be positive, got %d", c.Epochs)
	case c.BatchSize < 2:
		return fmt.Errorf("moco: batch size must be at least 2 (batch norm and the contrastive loss need several samples), got %d", c.BatchSize)
	case c.BaseLR <= 0:
		return fmt.Errorf("moco: learning rate must be positive, got %g", c.BaseLR)
	case c.WarmupEpochs < 0 || c.WarmupEpochs > float64(c.Epochs):
		return fmt.Errorf("moco: warmup of %g epochs outside [0, %d]", c.WarmupEpochs, c.Epochs)
	case c.MomentumBase < 0 || c.MomentumBase > 1:
		return fmt.Errorf("moco: momentum %g outside [0, 1]", c.MomentumBase)
	}
	return nil
}

// LR is the learning rate at a fractional epoch.
func (c TrainConfig) LR(epoch float64) float64 {
	return nn.CosineLR(c.BaseLR*float64(c.BatchSize)/256, epoch, c.WarmupEpochs, float64(c.Epochs))
}

// Momentum is the EMA coefficient at a fractional epoch.
func (c TrainConfig) Momentum(epoch float64) float64 {
	return nn.CosineMomentum(c.MomentumBase, epoch, float64(c.Epochs))
}

// Trainer runs MoCo v3 steps on one engine.
type Trainer struct {
	E             *engine.Engine
	Model         *Model
	Opt           *nn.AdamW
	Cfg           TrainConfig
	ItersPerEpoch int
	Step          int // iterations done so far
	Health        *Health

	// Squared-norm accumulators, one element each, kept on the backend:
	// all gradients, the patch embedding's, the first block's, all
	// weights. One read-back per step fetches them.
	accAll, accPatch, accBlock0, accParams *engine.Tensor
	lastLR, lastMom                        float64
}

// NewTrainer returns a trainer over the model's trainable parameters.
func NewTrainer(e *engine.Engine, m *Model, cfg TrainConfig, itersPerEpoch int) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if itersPerEpoch <= 0 {
		return nil, fmt.Errorf("moco: %d iterations per epoch", itersPerEpoch)
	}
	opt := nn.NewAdamW(nn.Trainable(m.Parameters()), cfg.BaseLR*float64(cfg.BatchSize)/256, cfg.WeightDecay)
	m.Train(true)
	acc := func() *engine.Tensor { return e.Zeros(1).Keep() }
	return &Trainer{E: e, Model: m, Opt: opt, Cfg: cfg, ItersPerEpoch: itersPerEpoch, Health: NewHealth(),
		accAll: acc(), accPatch: acc(), accBlock0: acc(), accParams: acc()}, nil
}

// PatchEmbedTrains reports whether the patch projection gets a gradient
// (false under MoCo v3's default stop-grad-conv1).
func (t *Trainer) PatchEmbedTrains() bool { return t.Model.Base.PatchW.RequiresGrad() }

// StepStats describes one training step.
type StepStats struct {
	Step     int     `json:"step"`
	Epoch    float64 `json:"epoch"`
	Loss     float64 `json:"loss"`
	LR       float64 `json:"lr"`
	Momentum float64 `json:"momentum"`
	// GradNorm is the L2 norm of every trainable parameter's gradient
	// together (backbone, projector, predictor), before the update.
	GradNorm float64 `json:"grad_norm"`
	// GradNormPatchEmbed is the patch projection's gradient norm; absent
	// when the projection is frozen (stop-grad-conv1, the default).
	GradNormPatchEmbed *float64 `json:"grad_norm_patch_embed,omitempty"`
	GradNormBlock0     float64  `json:"grad_norm_block0"`
	// ParamNorm is the L2 norm of the trainable weights after the update.
	ParamNorm float64 `json:"param_norm"`
	// LossScale is the mixed-precision loss scale: 1 on the CPU (float32).
	LossScale float64  `json:"loss_scale"`
	Spikes    []string `json:"spikes,omitempty"`
	Images    int      `json:"images"`
	Seconds   float64  `json:"seconds"`
}

// TrainStep runs one iteration on a batch of two views, each n images of
// 3×size×size floats (NCHW), at the given fractional epoch: forward of
// both encoders, backward, AdamW. It returns the step's statistics; the
// step's temporaries are released before it returns. A NaN or infinite
// loss or gradient stops it before the update, a non-finite weight after
// it: the error (wrapping ErrNonFinite) names the step, and the caller
// must not save the model.
func (t *Trainer) TrainStep(view1, view2 []float32, n, size int, epoch float64) (StepStats, error) {
	start := time.Now()
	lr, mom := t.Cfg.LR(epoch), t.Cfg.Momentum(epoch)
	e := t.E
	x1 := e.FromFloat32(view1[:n*3*size*size], n, 3, size, size)
	x2 := e.FromFloat32(view2[:n*3*size*size], n, 3, size, size)
	loss := t.Model.Loss(x1, x2, mom)
	t.Opt.ZeroGrad()
	e.Backward(loss)
	st := StepStats{Step: t.Step + 1, Epoch: epoch, LR: lr, Momentum: mom, LossScale: 1, Images: n}
	gn := t.gradNorms()
	st.Loss = loss.Item()
	st.GradNorm, st.GradNormBlock0 = math.Sqrt(gn[0]), math.Sqrt(gn[2])
	if t.PatchEmbedTrains() {
		v := math.Sqrt(gn[1])
		st.GradNormPatchEmbed = &v
	}
	if !finite(st.Loss) || !finite(st.GradNorm) {
		e.Reset()
		return st, fmt.Errorf("moco: step %d (epoch %.3f): %w: loss %v, gradient norm %v; stopped before the update", st.Step, epoch, ErrNonFinite, st.Loss, st.GradNorm)
	}
	t.Opt.SetLR(lr)
	t.Opt.Step()
	e.Reset()
	for i, p := range t.Opt.Params {
		engine.SumSquares(t.accParams, p.Tensor, i > 0)
	}
	st.ParamNorm = math.Sqrt(t.accParams.Item())
	if !finite(st.ParamNorm) {
		return st, fmt.Errorf("moco: step %d (epoch %.3f): %w: a weight became %v after the update", st.Step, epoch, ErrNonFinite, st.ParamNorm)
	}
	st.Spikes = t.Health.Observe(st.Loss, st.GradNorm)
	t.Step++
	t.lastLR, t.lastMom = lr, mom
	st.Seconds = time.Since(start).Seconds()
	return st, nil
}

// gradNorms returns the squared gradient norms of all trainable
// parameters, the patch embedding and the first block, summed on the
// backend and read back once.
func (t *Trainer) gradNorms() [3]float64 {
	m := t.Model.Base
	patch := map[*engine.Tensor]bool{m.PatchW: true, m.PatchB: true}
	block0 := map[*engine.Tensor]bool{}
	if len(m.Blocks) > 0 {
		for _, p := range m.Blocks[0].Parameters() {
			block0[p.Tensor] = true
		}
	}
	first := [3]bool{true, true, true}
	for _, p := range t.Opt.Params {
		g := p.Tensor.Grad()
		if g == nil {
			continue
		}
		for k, acc := range []*engine.Tensor{t.accAll, t.accPatch, t.accBlock0} {
			if k == 1 && !patch[p.Tensor] || k == 2 && !block0[p.Tensor] {
				continue
			}
			engine.SumSquares(acc, g, !first[k])
			first[k] = false
		}
	}
	var out [3]float64
	for k, acc := range []*engine.Tensor{t.accAll, t.accPatch, t.accBlock0} {
		if !first[k] {
			out[k] = acc.Item()
		}
	}
	return out
}
