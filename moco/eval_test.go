package moco

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/moco/data"
	"github.com/mocogo/mocogo/nn"
)

// grayImages is a dataset of n gray 16×16 images in two classes whose
// item bad fails to load.
type grayImages struct{ n, bad int }

func (g grayImages) Len() int          { return g.n }
func (g grayImages) Classes() []string { return []string{"a", "b"} }
func (g grayImages) Item(i int) (data.Sample, error) {
	if i == g.bad {
		return data.Sample{}, fmt.Errorf("item %d: broken", i)
	}
	pix := make([]uint8, 16*16)
	for k := range pix {
		pix[k] = uint8(k + i)
	}
	return data.Sample{Image: data.Image{W: 16, H: 16, C: 1, Pix: pix}, Label: i % 2}, nil
}

// TestExtractFeaturesError: a sample that fails during feature
// extraction, one pass over the set, is reported by its batch counted
// from 1, with no epoch (there is none to count).
func TestExtractFeaturesError(t *testing.T) {
	e := engine.New(engine.NewCPU(engine.F32))
	vit, err := nn.NewViT(e, fixtureCfg.ViT, nn.NewRNG(0))
	require.NoError(t, err)
	feats, labels, err := ExtractFeatures(e, vit, grayImages{n: 10, bad: -1}, Reading{Batch: 4, Workers: 1})
	require.NoError(t, err)
	require.Len(t, labels, 10)
	require.Len(t, feats, 10*fixtureCfg.ViT.Dim)

	_, _, err = ExtractFeatures(e, vit, grayImages{n: 10, bad: 5}, Reading{Batch: 4, Workers: 1})
	require.EqualError(t, err, "moco: extracting features: batch 2 of 3: item 5: broken")
}
