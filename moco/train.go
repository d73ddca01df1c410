package moco

import (
	"fmt"
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
	return &Trainer{E: e, Model: m, Opt: opt, Cfg: cfg, ItersPerEpoch: itersPerEpoch}, nil
}

// StepStats describes one training step.
type StepStats struct {
	Step     int     `json:"step"`
	Epoch    float64 `json:"epoch"`
	Loss     float64 `json:"loss"`
	LR       float64 `json:"lr"`
	Momentum float64 `json:"momentum"`
	Images   int     `json:"images"`
	Seconds  float64 `json:"seconds"`
}

// TrainStep runs one iteration on a batch of two views, each n images of
// 3×size×size floats (NCHW), at the given fractional epoch: forward of
// both encoders, backward, AdamW. It returns the step's statistics; the
// step's temporaries are released before it returns.
func (t *Trainer) TrainStep(view1, view2 []float32, n, size int, epoch float64) StepStats {
	start := time.Now()
	lr, mom := t.Cfg.LR(epoch), t.Cfg.Momentum(epoch)
	e := t.E
	x1 := e.FromFloat32(view1[:n*3*size*size], n, 3, size, size)
	x2 := e.FromFloat32(view2[:n*3*size*size], n, 3, size, size)
	loss := t.Model.Loss(x1, x2, mom)
	t.Opt.ZeroGrad()
	e.Backward(loss)
	t.Opt.SetLR(lr)
	t.Opt.Step()
	l := loss.Item()
	e.Reset()
	t.Step++
	return StepStats{Step: t.Step, Epoch: epoch, Loss: l, LR: lr, Momentum: mom, Images: n, Seconds: time.Since(start).Seconds()}
}
