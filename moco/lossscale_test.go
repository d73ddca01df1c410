package moco

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newScaler(t *testing.T, mod func(*LossScaleConfig)) *LossScaler {
	cfg := DynamicLossScale()
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewLossScaler(cfg)
	require.NoError(t, err)
	return s
}

// TestLossScalerDefaults: GradScaler's defaults.
func TestLossScalerDefaults(t *testing.T) {
	c := DynamicLossScale()
	assert.Equal(t, LossScaleConfig{Enabled: true, Init: 65536, GrowthFactor: 2, GrowthInterval: 2000, BackoffFactor: 0.5, MinScale: 1, FloorSkips: 3}, c)
	s := newScaler(t, nil)
	assert.Equal(t, 65536.0, s.Scale())
	// 1999 good steps leave it; the 2000th doubles it.
	for i := 0; i < 1999; i++ {
		require.NoError(t, s.Update(true))
	}
	assert.Equal(t, 65536.0, s.Scale())
	require.NoError(t, s.Update(true))
	assert.Equal(t, 131072.0, s.Scale())
	assert.Equal(t, 0, s.State().GoodSteps)
}

// TestLossScalerGrowthAndBackoff follows the schedule step by step: an
// overflow halves the scale and restarts the growth count.
func TestLossScalerGrowthAndBackoff(t *testing.T) {
	s := newScaler(t, func(c *LossScaleConfig) { c.Init, c.GrowthInterval = 8, 3 })
	steps := []struct {
		finite bool
		scale  float64
		good   int
	}{
		{true, 8, 1}, {true, 8, 2}, {true, 16, 0}, // grown after 3
		{true, 16, 1}, {true, 16, 2}, {false, 8, 0}, // halved, count restarted
		{true, 8, 1}, {true, 8, 2}, {true, 16, 0},
		{false, 8, 0}, {false, 4, 0}, {false, 2, 0},
	}
	for i, st := range steps {
		require.NoError(t, s.Update(st.finite), i)
		assert.Equal(t, st.scale, s.Scale(), "after update %d", i)
		assert.Equal(t, st.good, s.State().GoodSteps, "after update %d", i)
	}
	// Growth stops short of float32's range, as GradScaler's does.
	big := newScaler(t, func(c *LossScaleConfig) { c.Init, c.GrowthInterval = 0x1p127, 1 })
	require.NoError(t, big.Update(true))
	assert.Equal(t, 0x1p127, big.Scale())
	assert.Equal(t, 0, big.State().GoodSteps)
}

// TestLossScalerFloor: the backoff stops at MinScale; FloorSkips
// overflows in a row there are tolerated, one more is ErrNonFinite; a
// good step in between forgives them.
func TestLossScalerFloor(t *testing.T) {
	s := newScaler(t, func(c *LossScaleConfig) { c.Init, c.MinScale, c.BackoffFactor, c.FloorSkips = 16, 3, 0.25, 2 })
	require.NoError(t, s.Update(false))
	assert.Equal(t, 4.0, s.Scale())
	require.NoError(t, s.Update(false))
	assert.Equal(t, 3.0, s.Scale(), "clamped to the floor, not 1")
	assert.Equal(t, 0, s.State().FloorSkips, "reaching the floor is not a skip at it")
	require.NoError(t, s.Update(false))
	require.NoError(t, s.Update(false))
	assert.Equal(t, 2, s.State().FloorSkips)
	require.NoError(t, s.Update(true))
	assert.Equal(t, 0, s.State().FloorSkips)
	require.NoError(t, s.Update(false))
	require.NoError(t, s.Update(false))
	err := s.Update(false)
	require.ErrorIs(t, err, ErrNonFinite)
	assert.ErrorContains(t, err, "3 steps in a row at the minimum loss scale 3")
	assert.Equal(t, 3.0, s.Scale())
}

// TestLossScalerState: a state survives JSON and carries on exactly; a
// state the configuration cannot reach is refused.
func TestLossScalerState(t *testing.T) {
	mod := func(c *LossScaleConfig) { c.Init, c.GrowthInterval = 1024, 4 }
	a := newScaler(t, mod)
	for _, f := range []bool{true, false, true, true} {
		require.NoError(t, a.Update(f))
	}
	raw, err := json.Marshal(a.State())
	require.NoError(t, err)
	assert.JSONEq(t, `{"scale":512,"good_steps":2,"floor_skips":0}`, string(raw))
	var st LossScaleState
	require.NoError(t, json.Unmarshal(raw, &st))
	b := newScaler(t, mod)
	require.NoError(t, b.SetState(st))
	for i, f := range []bool{true, true, false, true, true, true, true, false} {
		require.NoError(t, a.Update(f))
		require.NoError(t, b.Update(f))
		require.Equal(t, a.State(), b.State(), i)
	}
	assert.Equal(t, 512.0, b.Scale())

	for _, bad := range []LossScaleState{
		{Scale: 0.5}, {Scale: math.NaN()}, {Scale: math.Inf(1)}, {Scale: 1e39},
		{Scale: 8, GoodSteps: 4}, {Scale: 8, GoodSteps: -1}, {Scale: 8, FloorSkips: 4}, {Scale: 8, FloorSkips: -1},
	} {
		assert.Error(t, b.SetState(bad), "%+v", bad)
	}
	assert.Equal(t, 512.0, b.Scale(), "a refused state changes nothing")
}

func TestLossScaleConfigValidate(t *testing.T) {
	require.NoError(t, LossScaleConfig{}.Validate())
	require.NoError(t, DynamicLossScale().Validate())
	for name, mod := range map[string]func(*LossScaleConfig){
		"off but configured":  func(c *LossScaleConfig) { *c = LossScaleConfig{Init: 4} },
		"zero floor":          func(c *LossScaleConfig) { c.MinScale = 0 },
		"init below floor":    func(c *LossScaleConfig) { c.Init = 0.5 },
		"init past float32":   func(c *LossScaleConfig) { c.Init = 1e39 },
		"NaN init":            func(c *LossScaleConfig) { c.Init = math.NaN() },
		"shrinking growth":    func(c *LossScaleConfig) { c.GrowthFactor = 0.5 },
		"zero interval":       func(c *LossScaleConfig) { c.GrowthInterval = 0 },
		"backoff of 1":        func(c *LossScaleConfig) { c.BackoffFactor = 1 },
		"backoff of 0":        func(c *LossScaleConfig) { c.BackoffFactor = 0 },
		"negative floor skip": func(c *LossScaleConfig) { c.FloorSkips = -1 },
	} {
		c := DynamicLossScale()
		mod(&c)
		assert.Error(t, c.Validate(), name)
		_, err := NewLossScaler(c)
		assert.Error(t, err, name)
		tc := DefaultTrainConfig(1, 4)
		tc.LossScale = c
		assert.Error(t, tc.Validate(), name)
	}
	_, err := NewLossScaler(LossScaleConfig{})
	assert.Error(t, err)
}
