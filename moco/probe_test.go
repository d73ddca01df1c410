package moco

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/moco/data"
	"github.com/mocogo/mocogo/nn"
)

// tintSet is an in-memory set of size×size images in which the class sets
// the hue of the whole image and the item its noise: a random ViT's
// features separate the classes, so an evaluation that works scores them
// near 100%. With scrambled labels the label does not follow the image,
// and no evaluation can beat chance on fresh items.
type tintSet struct {
	n, size, classes int
	seed             uint64 // noise: sets with other seeds hold other images
	scrambled        bool
}

func (s tintSet) Len() int { return s.n }

func (s tintSet) Classes() []string {
	names := make([]string, s.classes)
	for i := range names {
		names[i] = fmt.Sprint("class", i)
	}
	return names
}

func (s tintSet) Item(i int) (data.Sample, error) {
	c := i % s.classes
	tints := [][3]int{{200, 40, 40}, {40, 200, 40}, {40, 40, 200}, {200, 200, 40}, {40, 200, 200}}
	r := nn.NewRNG(s.seed*1_000_003 + uint64(i))
	pix := make([]uint8, s.size*s.size*3)
	for p := range pix {
		v := tints[c%len(tints)][p%3] + r.IntN(41) - 20
		pix[p] = uint8(max(0, min(255, v)))
	}
	label := c
	if s.scrambled {
		// A label drawn from the item's own noise, not from its tint.
		label = nn.NewRNG(s.seed*7919 + uint64(i) + 1).IntN(s.classes)
	}
	return data.Sample{Image: data.Image{W: s.size, H: s.size, C: 3, Pix: pix}, Label: label, Name: fmt.Sprint("item", i)}, nil
}

// TestLinearProbeLearns trains main_lincls.py's probe on a random ViT's
// features of tintSet, on cached features and on fresh augmented views,
// and scores it on other images of the same classes: near 100%, and near
// chance when the labels do not follow the images. kNN on the same
// features is checked alike.
func TestLinearProbeLearns(t *testing.T) {
	e := engine.New(engine.NewCPU(engine.F32))
	vit, err := nn.NewViT(e, nn.Config{ImageSize: 16, PatchSize: 4, Dim: 32, Depth: 1, Heads: 2}, nn.NewRNG(4))
	require.NoError(t, err)
	const classes = 3
	train := tintSet{n: 96, size: 16, classes: classes, seed: 1}
	val := tintSet{n: 60, size: 16, classes: classes, seed: 2}
	for _, cache := range []bool{true, false} {
		t.Run(fmt.Sprint("cache=", cache), func(t *testing.T) {
			cfg := ProbeConfig{Epochs: 8, BatchSize: 16, BaseLR: 3, Momentum: 0.9, CacheFeatures: cache, Seed: 5, Workers: 2}
			var losses []float64
			res, err := LinearProbe(e, vit, train, val, cfg, func(_ int, loss float64) { losses = append(losses, loss) })
			require.NoError(t, err)
			require.Len(t, losses, cfg.Epochs)
			require.Less(t, losses[len(losses)-1], losses[0], "the probe's loss falls")
			require.GreaterOrEqual(t, res.Top1, 0.95, "top-1 on separable classes")
			require.Equal(t, 1.0, res.Top5, "top-5 of 3 classes")

			scrambledTrain, scrambledVal := train, val
			scrambledTrain.scrambled, scrambledVal.scrambled = true, true
			res, err = LinearProbe(e, vit, scrambledTrain, scrambledVal, cfg, nil)
			require.NoError(t, err)
			require.Less(t, res.Top1, 0.6, "top-1 with labels that do not follow the images (chance 1/3)")
		})
	}

	r := Reading{Batch: 16, Workers: 2}
	top1, top5, err := KNNAccuracy(e, vit, train, val, 20, 0.1, r)
	require.NoError(t, err)
	require.GreaterOrEqual(t, top1, 0.95)
	require.Equal(t, 1.0, top5)
	train.scrambled, val.scrambled = true, true
	top1, _, err = KNNAccuracy(e, vit, train, val, 20, 0.1, r)
	require.NoError(t, err)
	require.Less(t, top1, 0.6)
}
