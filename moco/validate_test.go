package moco

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecipesRefuseNonFinite checks that the training, model and probe
// recipes refuse NaN, infinities and negative weight decay, which every
// plain range check (x <= 0) lets through.
func TestRecipesRefuseNonFinite(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	require.NoError(t, DefaultTrainConfig(10, 8).Validate())
	for name, mod := range map[string]func(*TrainConfig){
		"NaN lr":          func(c *TrainConfig) { c.BaseLR = nan },
		"Inf lr":          func(c *TrainConfig) { c.BaseLR = inf },
		"NaN warmup":      func(c *TrainConfig) { c.WarmupEpochs = nan },
		"NaN wd":          func(c *TrainConfig) { c.WeightDecay = nan },
		"Inf wd":          func(c *TrainConfig) { c.WeightDecay = inf },
		"negative wd":     func(c *TrainConfig) { c.WeightDecay = -1 },
		"NaN momentum":    func(c *TrainConfig) { c.MomentumBase = nan },
		"momentum past 1": func(c *TrainConfig) { c.MomentumBase = 1.5 },
	} {
		c := DefaultTrainConfig(10, 8)
		mod(&c)
		assert.Error(t, c.Validate(), name)
	}

	cfg := fixtureCfg
	require.NoError(t, cfg.Validate())
	for _, temp := range []float64{nan, inf, 0, -0.2} {
		c := cfg
		c.Temperature = temp
		assert.Error(t, c.Validate(), "temperature %g", temp)
	}

	probe := ProbeConfig{Epochs: 1, BatchSize: 4, BaseLR: 3, Momentum: 0.9}
	require.NoError(t, probe.Validate())
	for name, mod := range map[string]func(*ProbeConfig){
		"zero epochs":  func(c *ProbeConfig) { c.Epochs = 0 },
		"zero batch":   func(c *ProbeConfig) { c.BatchSize = 0 },
		"NaN lr":       func(c *ProbeConfig) { c.BaseLR = nan },
		"Inf lr":       func(c *ProbeConfig) { c.BaseLR = inf },
		"negative lr":  func(c *ProbeConfig) { c.BaseLR = -1 },
		"momentum 1":   func(c *ProbeConfig) { c.Momentum = 1 },
		"NaN momentum": func(c *ProbeConfig) { c.Momentum = nan },
		"NaN wd":       func(c *ProbeConfig) { c.WeightDecay = nan },
		"negative wd":  func(c *ProbeConfig) { c.WeightDecay = -0.1 },
	} {
		c := probe
		mod(&c)
		assert.Error(t, c.Validate(), name)
	}
}

// TestScoreLogits checks the probe's scoring: ties rank as argmax breaks
// them (the lower index first), so all-equal logits score chance, and a
// row with a NaN is a miss, never a hit.
func TestScoreLogits(t *testing.T) {
	nan := float32(math.NaN())
	logits := []float32{
		3, 1, 2, // true 0: top-1
		1, 3, 2, // true 2: second, top-5 only
		0, 0, 0, // true 0: a tie, first index wins: top-1
		0, 0, 0, // true 2: a tie, ranks third: top-5 only
		nan, nan, nan, // true 1: a miss
		1, nan, 0, // true 0: a miss
	}
	labels := []int32{0, 2, 0, 2, 1, 0}
	r := scoreLogits(logits, labels, 3)
	assert.InDelta(t, 2.0/6, r.Top1, 1e-12)
	assert.InDelta(t, 4.0/6, r.Top5, 1e-12)

	// Ten classes, all logits equal: top-1 is the share of class 0.
	const classes = 10
	flat := make([]float32, classes*classes)
	lab := make([]int32, classes)
	for i := range lab {
		lab[i] = int32(i)
	}
	r = scoreLogits(flat, lab, classes)
	assert.InDelta(t, 0.1, r.Top1, 1e-12)
	assert.InDelta(t, 0.5, r.Top5, 1e-12)
}
