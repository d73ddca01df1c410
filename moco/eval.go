package moco

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/moco/data"
	"github.com/mocogo/mocogo/nn"
)

// Reading says how an evaluation pass reads a set: images per batch,
// decoding goroutines, and whether an image that cannot be read is
// replaced by another of the set (data.LoaderConfig.SkipErrors: chosen
// deterministically) instead of failing the pass; Skipped, when not nil,
// counts the images so replaced.
type Reading struct {
	Batch, Workers int
	SkipErrors     bool
	Skipped        *atomic.Int64
}

// ExtractFeatures runs the backbone over every item of ds, in order, with
// the evaluation transform (resize, center crop, normalise) at the ViT's
// image size, and returns the cls features [n, D] and the labels. It ends
// with e.Reset: call it between training steps, not inside one.
func ExtractFeatures(e *engine.Engine, vit *nn.ViT, ds data.Dataset, r Reading) ([]float32, []int32, error) {
	size := vit.Config.ImageSize
	l, err := data.NewLoader(ds, data.NewEval(size), data.LoaderConfig{BatchSize: r.Batch, Workers: r.Workers, SkipErrors: r.SkipErrors})
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	dim := vit.Config.Dim
	feats := make([]float32, 0, ds.Len()*dim)
	labels := make([]int32, 0, ds.Len())
	for i := 0; i < l.BatchesPerEpoch(); i++ {
		b, err := l.Next()
		if err != nil {
			// One pass over the set: its batches are no epoch's.
			var be *data.BatchError
			if errors.As(err, &be) {
				return nil, nil, fmt.Errorf("moco: extracting features: batch %d of %d: %w", be.Pos.Batch+1, be.Batches, be.Err)
			}
			return nil, nil, fmt.Errorf("moco: extracting features: %w", err)
		}
		x := e.FromFloat32(b.Views[0][:b.N*3*size*size], b.N, 3, size, size)
		f := e.Detached(func() []*engine.Tensor { return []*engine.Tensor{vit.Forward(x)} })[0]
		feats = append(feats, f.Data()...)
		labels = append(labels, b.Labels[:b.N]...)
		e.Reset()
	}
	if r.Skipped != nil {
		r.Skipped.Add(l.Skipped())
	}
	return feats, labels, nil
}

// KNNAccuracy extracts features of the bank and query sets and returns
// the weighted kNN top-1 and top-5 accuracy (k = 200, t = 0.1 unless set).
func KNNAccuracy(e *engine.Engine, vit *nn.ViT, bank, query data.Dataset, k int, t float64, r Reading) (top1, top5 float64, err error) {
	bf, bl, err := ExtractFeatures(e, vit, bank, r)
	if err != nil {
		return 0, 0, err
	}
	qf, ql, err := ExtractFeatures(e, vit, query, r)
	if err != nil {
		return 0, 0, err
	}
	knn, err := NewKNN(bf, bl, vit.Config.Dim, len(bank.Classes()), k, t)
	if err != nil {
		return 0, 0, err
	}
	return knn.Accuracy(qf, ql)
}
