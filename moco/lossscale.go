package moco

import (
	"fmt"
	"math"
)

// LossScaleConfig configures dynamic loss scaling, with the semantics of
// PyTorch's torch.cuda.amp.GradScaler (which the official MoCo v3 uses
// with autocast): the backward pass starts from the loss multiplied by
// the scale, so that small half-precision gradients do not flush to zero;
// the gradients are unscaled before the update; a step whose gradients
// came out NaN or infinite is skipped and the scale lowered, and a run of
// GrowthInterval good steps raises it.
//
// The zero value is scaling off, which is what float32 training wants;
// DynamicLossScale gives GradScaler's defaults.
type LossScaleConfig struct {
	Enabled bool
	// Init is the scale of the first step: 2^16.
	Init float64
	// GrowthFactor multiplies the scale after GrowthInterval consecutive
	// steps with finite gradients: 2 after 2000.
	GrowthFactor   float64
	GrowthInterval int
	// BackoffFactor multiplies the scale after a step with a non-finite
	// gradient: 0.5.
	BackoffFactor float64
	// MinScale is the floor the backoff stops at: 1. (GradScaler has no
	// floor; at a scale of 1 an overflow is the gradient's own.)
	MinScale float64
	// FloorSkips is how many consecutive steps may be skipped while the
	// scale sits at MinScale; one more non-finite gradient then stops the
	// run with ErrNonFinite, as it would without scaling: 3.
	FloorSkips int
}

// DynamicLossScale returns GradScaler's defaults (init 2^16, ×2 after
// 2000 good steps, ×0.5 on an overflow) with a floor of 1 and 3 skips
// allowed at the floor.
func DynamicLossScale() LossScaleConfig {
	return LossScaleConfig{Enabled: true, Init: 1 << 16, GrowthFactor: 2, GrowthInterval: 2000, BackoffFactor: 0.5, MinScale: 1, FloorSkips: 3}
}

// Validate reports a configuration the scaler cannot run. A disabled
// configuration must be the zero value, so that two recipes that both
// train unscaled compare equal.
func (c LossScaleConfig) Validate() error {
	if !c.Enabled {
		if c != (LossScaleConfig{}) {
			return fmt.Errorf("moco: loss scaling is off but configured (%+v)", c)
		}
		return nil
	}
	fin := func(x float64) bool { return finite(x) && x <= math.MaxFloat32 }
	switch {
	case !fin(c.MinScale) || c.MinScale <= 0:
		return fmt.Errorf("moco: minimum loss scale %g must be positive and finite in float32", c.MinScale)
	case !fin(c.Init) || c.Init < c.MinScale:
		return fmt.Errorf("moco: initial loss scale %g must be at least the minimum %g and finite in float32", c.Init, c.MinScale)
	case !fin(c.GrowthFactor) || c.GrowthFactor < 1:
		return fmt.Errorf("moco: loss-scale growth factor %g must be at least 1", c.GrowthFactor)
	case c.GrowthInterval < 1:
		return fmt.Errorf("moco: loss-scale growth interval %d must be positive", c.GrowthInterval)
	case !(c.BackoffFactor > 0 && c.BackoffFactor < 1):
		return fmt.Errorf("moco: loss-scale backoff factor %g must lie in (0, 1)", c.BackoffFactor)
	case c.FloorSkips < 0:
		return fmt.Errorf("moco: %d skips allowed at the minimum loss scale", c.FloorSkips)
	}
	return nil
}

// LossScaleState is a LossScaler's running state, saved in checkpoints so
// that a resumed run scales exactly as an uninterrupted one.
type LossScaleState struct {
	Scale float64 `json:"scale"`
	// GoodSteps counts the consecutive steps with finite gradients since
	// the scale last changed (GradScaler's growth tracker).
	GoodSteps int `json:"good_steps"`
	// FloorSkips counts the consecutive steps skipped at MinScale.
	FloorSkips int `json:"floor_skips"`
}

// LossScaler is the dynamic loss scale of a run (GradScaler): Scale is
// the factor the next backward starts from, Update takes whether that
// step's gradients were finite.
type LossScaler struct {
	cfg LossScaleConfig
	st  LossScaleState
}

// NewLossScaler returns a scaler at cfg.Init; cfg must be enabled.
func NewLossScaler(cfg LossScaleConfig) (*LossScaler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled {
		return nil, fmt.Errorf("moco: NewLossScaler of a disabled configuration")
	}
	return &LossScaler{cfg: cfg, st: LossScaleState{Scale: cfg.Init}}, nil
}

// Config returns the scaler's configuration.
func (s *LossScaler) Config() LossScaleConfig { return s.cfg }

// Scale is the factor the next backward pass starts from.
func (s *LossScaler) Scale() float64 { return s.st.Scale }

// Update records one step: finite tells whether its gradients were all
// finite (the step was taken) or not (it was skipped). A finite step
// counts towards growth: the GrowthInterval-th in a row multiplies the
// scale by GrowthFactor (unless that would leave float32's range, as
// GradScaler does). A non-finite step multiplies it by BackoffFactor, no
// lower than MinScale, and restarts the count. When a non-finite step
// finds the scale already at MinScale for the (FloorSkips+1)-th time in
// a row, Update returns an error wrapping ErrNonFinite: the gradient
// overflows by itself and skipping will not help.
func (s *LossScaler) Update(finite bool) error {
	st := &s.st
	if finite {
		st.FloorSkips = 0
		st.GoodSteps++
		if st.GoodSteps >= s.cfg.GrowthInterval {
			st.GoodSteps = 0
			if g := st.Scale * s.cfg.GrowthFactor; g <= math.MaxFloat32 {
				st.Scale = g
			}
		}
		return nil
	}
	st.GoodSteps = 0
	if st.Scale <= s.cfg.MinScale {
		st.FloorSkips++
		if st.FloorSkips > s.cfg.FloorSkips {
			return fmt.Errorf("%w: the gradient stayed non-finite for %d steps in a row at the minimum loss scale %g",
				ErrNonFinite, st.FloorSkips, s.cfg.MinScale)
		}
		return nil
	}
	st.FloorSkips = 0
	st.Scale = math.Max(st.Scale*s.cfg.BackoffFactor, s.cfg.MinScale)
	return nil
}

// State returns the running state for a checkpoint.
func (s *LossScaler) State() LossScaleState { return s.st }

// SetState restores a state saved with State, after checking that this
// scaler's configuration could have reached it.
func (s *LossScaler) SetState(st LossScaleState) error {
	c := s.cfg
	switch {
	case !finite(st.Scale) || st.Scale < c.MinScale || st.Scale > math.MaxFloat32:
		return fmt.Errorf("moco: loss scale %g outside [%g, float32's largest]", st.Scale, c.MinScale)
	case st.GoodSteps < 0 || st.GoodSteps >= c.GrowthInterval:
		return fmt.Errorf("moco: %d good steps towards a loss-scale growth every %d", st.GoodSteps, c.GrowthInterval)
	case st.FloorSkips < 0 || st.FloorSkips > c.FloorSkips:
		return fmt.Errorf("moco: %d skips at the minimum loss scale, at most %d allowed", st.FloorSkips, c.FloorSkips)
	}
	s.st = st
	return nil
}
