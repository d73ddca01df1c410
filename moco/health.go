package moco

import (
	"errors"
	"fmt"
	"math"
)

// HealthState is the spike detector's running state, saved in checkpoints
// so that a resumed run flags exactly what an uninterrupted one would.
type HealthState struct {
	Steps   int     `json:"steps"`
	GradEMA float64 `json:"grad_ema"`
	LossEMA float64 `json:"loss_ema"`
}

// Health watches the loss and the gradient norm step by step: it flags a
// gradient norm that jumps past GradFactor times its running mean and a
// loss that rises past (1+LossRise) times its running mean, once Warmup
// steps have set the means.
type Health struct {
	GradFactor float64 // 4: flag a gradient norm above 4× its running mean
	LossRise   float64 // 0.25: flag a loss 25% above its running mean
	Warmup     int     // 20 steps before anything is flagged
	Decay      float64 // 0.95: weight of the past in the running means
	st         HealthState
}

// NewHealth returns a detector with the defaults above.
func NewHealth() *Health {
	return &Health{GradFactor: 4, LossRise: 0.25, Warmup: 20, Decay: 0.95}
}

// State returns the running state for a checkpoint.
func (h *Health) State() HealthState { return h.st }

// SetState restores a state saved with State.
func (h *Health) SetState(s HealthState) { h.st = s }

// Observe takes one step's loss and gradient norm and returns what it
// flags (nothing on a healthy step).
func (h *Health) Observe(loss, gradNorm float64) []string {
	var flags []string
	s := &h.st
	if s.Steps >= h.Warmup {
		if gradNorm > h.GradFactor*s.GradEMA {
			flags = append(flags, fmt.Sprintf("gradient-norm spike: %.4g is %.1f× its running mean %.4g", gradNorm, gradNorm/s.GradEMA, s.GradEMA))
		}
		if loss > (1+h.LossRise)*s.LossEMA {
			flags = append(flags, fmt.Sprintf("loss rise: %.4g is %.0f%% above its running mean %.4g", loss, 100*(loss/s.LossEMA-1), s.LossEMA))
		}
	}
	if s.Steps == 0 {
		s.GradEMA, s.LossEMA = gradNorm, loss
	} else {
		s.GradEMA = h.Decay*s.GradEMA + (1-h.Decay)*gradNorm
		s.LossEMA = h.Decay*s.LossEMA + (1-h.Decay)*loss
	}
	s.Steps++
	return flags
}

// ErrNonFinite is wrapped by TrainStep's error when the loss, a gradient
// (without loss scaling, or with the scale stuck at its floor) or a
// weight is NaN or infinite, and by SaveCheckpoint's when a weight is.
var ErrNonFinite = errors.New("non-finite value")

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
