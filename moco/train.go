package moco

import (
	"fmt"
	"math"
	"slices"
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
	// LossScale is dynamic loss scaling for half-precision training
	// (off, the zero value, for float32; DynamicLossScale for fp16).
	LossScale LossScaleConfig `json:",omitzero"`
	// CheckWeightsAfterUpdate reads the weight norm back right after
	// each update as well (a second device synchronisation per step), so
	// that a weight made non-finite is reported by the step that made it.
	// Off, the weights' norm travels with the next step's single
	// read-back, which reports such a weight one step later (its loss is
	// then non-finite too), and SaveCheckpoint checks the weights itself.
	CheckWeightsAfterUpdate bool `json:",omitempty"`
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
	case !(c.BaseLR > 0) || math.IsInf(c.BaseLR, 0):
		return fmt.Errorf("moco: learning rate must be a positive finite number, got %g", c.BaseLR)
	case !(c.WarmupEpochs >= 0 && c.WarmupEpochs <= float64(c.Epochs)):
		return fmt.Errorf("moco: warmup of %g epochs outside [0, %d]", c.WarmupEpochs, c.Epochs)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("moco: weight decay must be a finite number >= 0, got %g", c.WeightDecay)
	case !(c.MomentumBase >= 0 && c.MomentumBase <= 1):
		return fmt.Errorf("moco: momentum %g outside [0, 1]", c.MomentumBase)
	}
	return c.LossScale.Validate()
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
	Step          int // iterations done so far, skipped ones included
	Health        *Health
	// Scaler is the dynamic loss scale; nil when Cfg.LossScale is off.
	Scaler *LossScaler
	// SkippedSteps counts the steps whose update was skipped because
	// their scaled gradients overflowed (only with Scaler).
	SkippedSteps int

	// acc holds one-element squared-norm accumulators, kept on the
	// backend (acc[statLoss] is unused); stats gathers the loss and them
	// so that one read-back per step fetches everything.
	acc           [numStats]*engine.Tensor
	stats         *engine.Tensor
	patch, block0 map[*engine.Tensor]bool
	lastLR        float64
	lastMom       float64
}

// The elements of Trainer.stats.
const (
	statLoss       = iota
	statGradAll    // Σ g² over every trainable parameter
	statGradPatch  // … over the patch embedding
	statGradBlock0 // … over the first block
	statWeights    // Σ w² over every trainable weight, as the step began
	numStats
)

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
	t := &Trainer{E: e, Model: m, Opt: opt, Cfg: cfg, ItersPerEpoch: itersPerEpoch, Health: NewHealth(),
		stats: e.Zeros(numStats).Keep(),
		patch: map[*engine.Tensor]bool{m.Base.PatchW: true, m.Base.PatchB: true}, block0: map[*engine.Tensor]bool{}}
	for k := statGradAll; k < numStats; k++ {
		t.acc[k] = e.Zeros(1).Keep()
	}
	if len(m.Base.Blocks) > 0 {
		for _, p := range m.Base.Blocks[0].Parameters() {
			t.block0[p.Tensor] = true
		}
	}
	if cfg.LossScale.Enabled {
		var err error
		if t.Scaler, err = NewLossScaler(cfg.LossScale); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// EpochAt is the fractional epoch of an epoch's batch (0-based both), at
// which TrainStep sets the schedules: epoch + batch/ItersPerEpoch, as
// main_moco.py passes epoch + i/iters_per_epoch.
func (t *Trainer) EpochAt(epoch, batch int) float64 {
	return float64(epoch) + float64(batch)/float64(t.ItersPerEpoch)
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
	// together (backbone, projector, predictor), before the update and
	// after unscaling.
	GradNorm float64 `json:"grad_norm"`
	// GradNormPatchEmbed is the patch projection's gradient norm; absent
	// when the projection is frozen (stop-grad-conv1, the default).
	GradNormPatchEmbed *float64 `json:"grad_norm_patch_embed,omitempty"`
	GradNormBlock0     float64  `json:"grad_norm_block0"`
	// ParamNorm is the L2 norm of the trainable weights as the step
	// began, that is after the previous step's update (it travels with
	// the step's one read-back instead of costing one of its own).
	ParamNorm float64 `json:"param_norm"`
	// LossScale is the factor the backward pass started from: 1 without
	// dynamic loss scaling (float32 training).
	LossScale float64 `json:"loss_scale"`
	// Skipped marks a step whose scaled gradients overflowed: the update
	// was skipped and the loss scale lowered; the momentum encoder still
	// took its EMA step, as in the official code.
	Skipped bool `json:"skipped,omitempty"`
	// SkippedSteps is the number of steps skipped so far in the run.
	SkippedSteps int      `json:"skipped_steps,omitempty"`
	Spikes       []string `json:"spikes,omitempty"`
	Images       int      `json:"images"`
	Seconds      float64  `json:"seconds"`
}

// TrainStep runs one iteration on a batch of two views, each n images of
// 3×size×size floats (NCHW), at the given fractional epoch: forward of
// both encoders (the momentum encoder's EMA step included), backward,
// AdamW. It returns the step's statistics; the step's temporaries are
// released before it returns.
//
// The loss, the gradient norms and the weight norm come back from the
// backend in one read-back, after the backward pass and before the
// update: the only device synchronisation of a normal step.
//
// With loss scaling (Cfg.LossScale), the backward starts from the loss
// times Scaler.Scale() and the gradients are unscaled in place before
// their norms are taken (GradScaler's unscale_). If one is then NaN or
// infinite the step is skipped, as GradScaler.step skips
// optimizer.step: no update, but the momentum encoder has taken its EMA
// step (it runs inside the forward, as _update_momentum_encoder does in
// the official MoCo_ViT.forward), the scale is lowered, Step and
// SkippedSteps count it and no error is returned.
//
// A NaN or infinite loss, a non-finite gradient without loss scaling (or
// at the minimum scale, see LossScaleConfig.FloorSkips) and a non-finite
// weight stop the step before the update with an error wrapping
// ErrNonFinite that names the step; the caller must not save the model.
// A weight made non-finite by an update is found as the next step
// begins, or at once with Cfg.CheckWeightsAfterUpdate.
func (t *Trainer) TrainStep(view1, view2 []float32, n, size int, epoch float64) (StepStats, error) {
	start := time.Now()
	e := t.E
	x1 := e.FromFloat32(view1[:n*3*size*size], n, 3, size, size)
	x2 := e.FromFloat32(view2[:n*3*size*size], n, 3, size, size)
	return t.step(x1, x2, epoch, start)
}

// TrainStepOn is TrainStep on views already in the engine: x1 and x2 are
// n×3×size×size tensors (kept ones survive the step; temporaries are
// released with the step's others). A benchmark of the compute alone uses
// it with views uploaded once, as a PyTorch benchmark keeps its inputs on
// the GPU.
func (t *Trainer) TrainStepOn(x1, x2 *engine.Tensor, epoch float64) (StepStats, error) {
	if s1, s2 := x1.Shape(), x2.Shape(); len(s1) != 4 || s1[1] != 3 || !slices.Equal(s1, s2) {
		return StepStats{}, fmt.Errorf("moco: TrainStepOn: views of shapes %v and %v, want two n×3×size×size", s1, s2)
	}
	return t.step(x1, x2, epoch, time.Now())
}

// step is TrainStep from the views in the engine, timed from start.
func (t *Trainer) step(x1, x2 *engine.Tensor, epoch float64, start time.Time) (StepStats, error) {
	lr, mom := t.Cfg.LR(epoch), t.Cfg.Momentum(epoch)
	e := t.E
	n := x1.Shape()[0]
	loss := t.Model.Loss(x1, x2, mom)
	t.Opt.ZeroGrad()
	scale := 1.0
	if t.Scaler != nil {
		scale = t.Scaler.Scale()
	}
	e.BackwardWith(loss, e.Full(scale, loss.Shape()...))
	if scale != 1 {
		t.unscale(1 / scale)
	}
	st := StepStats{Step: t.Step + 1, Epoch: epoch, LR: lr, Momentum: mom, LossScale: scale, Images: n, SkippedSteps: t.SkippedSteps}
	v := t.readBack(loss)
	st.Loss = v[statLoss]
	st.GradNorm, st.GradNormBlock0 = math.Sqrt(v[statGradAll]), math.Sqrt(v[statGradBlock0])
	if t.PatchEmbedTrains() {
		p := math.Sqrt(v[statGradPatch])
		st.GradNormPatchEmbed = &p
	}
	st.ParamNorm = math.Sqrt(v[statWeights])
	stop := func(format string, args ...any) (StepStats, error) {
		e.Reset()
		return st, fmt.Errorf("moco: step %d (epoch %.3f): "+format, append([]any{st.Step, epoch}, args...)...)
	}
	switch {
	case !finite(st.ParamNorm):
		return stop("%w: a weight is %v as the step begins (made so by step %d's update or by a change between steps); stopped before the update", ErrNonFinite, st.ParamNorm, t.Step)
	case !finite(st.Loss):
		return stop("%w: loss %v, gradient norm %v; stopped before the update", ErrNonFinite, st.Loss, st.GradNorm)
	case !finite(st.GradNorm) && t.Scaler == nil:
		return stop("%w: loss %v, gradient norm %v; stopped before the update", ErrNonFinite, st.Loss, st.GradNorm)
	case !finite(st.GradNorm):
		if err := t.Scaler.Update(false); err != nil {
			return stop("%w (gradient norm %v); stopped before the update", err, st.GradNorm)
		}
		e.Reset()
		t.SkippedSteps++
		st.Skipped, st.SkippedSteps = true, t.SkippedSteps
		t.finish(lr, mom)
		st.Seconds = time.Since(start).Seconds()
		return st, nil
	}
	t.Opt.SetLR(lr)
	t.Opt.Step()
	e.Reset()
	if t.Scaler != nil {
		if err := t.Scaler.Update(true); err != nil {
			return st, err // a finite step never fails; kept for safety
		}
	}
	if t.Cfg.CheckWeightsAfterUpdate {
		if w := t.WeightNorm(); !finite(w) {
			return st, fmt.Errorf("moco: step %d (epoch %.3f): %w: a weight became %v after the update", st.Step, epoch, ErrNonFinite, w)
		}
	}
	st.Spikes = t.Health.Observe(st.Loss, st.GradNorm)
	t.finish(lr, mom)
	st.Seconds = time.Since(start).Seconds()
	return st, nil
}

// finish counts a step taken or skipped.
func (t *Trainer) finish(lr, mom float64) {
	t.Step++
	t.lastLR, t.lastMom = lr, mom
}

// unscale multiplies every gradient by inv in place (the scale is a power
// of two with the default factors, so this is exact).
func (t *Trainer) unscale(inv float64) {
	var gs []engine.Storage
	for _, p := range t.Opt.Params {
		if g := p.Tensor.Grad(); g != nil {
			gs = append(gs, g.Storage())
		}
	}
	engine.ScaleAll(t.E.Backend(), gs, inv)
}

// readBack sums the squared gradient norms (all trainable parameters, the
// patch embedding, the first block) and the squared weight norm on the
// backend, gathers them with the loss into stats and reads that back:
// one device synchronisation. A group without gradients reads 0.
func (t *Trainer) readBack(loss *engine.Tensor) [numStats]float64 {
	b := t.E.Backend()
	var lists [numStats][]*engine.Tensor
	for _, p := range t.Opt.Params {
		lists[statWeights] = append(lists[statWeights], p.Tensor)
		g := p.Tensor.Grad()
		if g == nil {
			continue
		}
		lists[statGradAll] = append(lists[statGradAll], g)
		if t.patch[p.Tensor] {
			lists[statGradPatch] = append(lists[statGradPatch], g)
		}
		if t.block0[p.Tensor] {
			lists[statGradBlock0] = append(lists[statGradBlock0], g)
		}
	}
	dst := t.stats.Storage()
	b.CopyAxis(dst, numStats, statLoss, loss.Storage(), 1, 0, 1, 1, 1, false)
	for k := statGradAll; k < numStats; k++ {
		engine.SumSquaresAll(t.acc[k], lists[k], false)
		b.CopyAxis(dst, numStats, k, t.acc[k].Storage(), 1, 0, 1, 1, 1, false)
	}
	var out [numStats]float64
	b.Download(out[:], dst)
	return out
}

// WeightNorm returns the L2 norm of all trainable weights now. It reads
// one value back from the backend, so it also waits for the work queued
// so far (what a benchmark can time against).
func (t *Trainer) WeightNorm() float64 {
	acc := t.acc[statWeights]
	weights := make([]*engine.Tensor, len(t.Opt.Params))
	for i, p := range t.Opt.Params {
		weights[i] = p.Tensor
	}
	engine.SumSquaresAll(acc, weights, false)
	return math.Sqrt(acc.Item())
}
