package moco

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/moco/data"
	"github.com/mocogo/mocogo/nn"
)

// ProbeConfig is the linear-probe recipe of MoCo v3's main_lincls.py:
// SGD with momentum 0.9 and no weight decay on a Linear(D, classes)
// initialised N(0, 0.01) with zero bias, lr = BaseLR·BatchSize/256 with a
// cosine decay per epoch.
type ProbeConfig struct {
	Epochs      int
	BatchSize   int
	BaseLR      float64 // 3 (lr 12 at batch 1024)
	Momentum    float64 // 0.9
	WeightDecay float64 // 0
	// CacheFeatures trains on features of the evaluation view computed
	// once, instead of the backbone on fresh augmented views every step
	// (the official recipe): much faster on a CPU, a little less accurate.
	CacheFeatures bool
	Seed          uint64
	Workers       int
	// SkipErrors uses another image of the set where one cannot be read
	// (data.LoaderConfig.SkipErrors), in training and evaluation; Skipped,
	// when not nil, counts the images so replaced.
	SkipErrors bool
	Skipped    *atomic.Int64
}

// Validate reports a recipe no probe can train with: epochs, batch or lr
// not positive, an lr, momentum or weight decay that is not a finite
// number, momentum outside [0, 1) or a negative weight decay.
func (cfg ProbeConfig) Validate() error {
	if cfg.Epochs <= 0 || cfg.BatchSize <= 0 {
		return fmt.Errorf("moco: linear probe needs positive epochs and batch (got %d, %d)", cfg.Epochs, cfg.BatchSize)
	}
	if !(cfg.BaseLR > 0) || math.IsInf(cfg.BaseLR, 0) {
		return fmt.Errorf("moco: linear probe lr %g is not a positive finite number", cfg.BaseLR)
	}
	if !(cfg.Momentum >= 0 && cfg.Momentum < 1) {
		return fmt.Errorf("moco: linear probe momentum %g is outside [0, 1)", cfg.Momentum)
	}
	if !(cfg.WeightDecay >= 0) || math.IsInf(cfg.WeightDecay, 0) {
		return fmt.Errorf("moco: linear probe weight decay %g is not a finite number >= 0", cfg.WeightDecay)
	}
	return nil
}

// ProbeResult is the probe's accuracy on the evaluation set.
type ProbeResult struct {
	Top1, Top5 float64
}

// LinearProbe trains a linear classifier on the frozen backbone's cls
// features of train and returns its accuracy on val. progress, if not
// nil, is told the mean loss of each epoch.
func LinearProbe(e *engine.Engine, vit *nn.ViT, train, val data.Dataset, cfg ProbeConfig, progress func(epoch int, loss float64)) (ProbeResult, error) {
	if err := cfg.Validate(); err != nil {
		return ProbeResult{}, err
	}
	classes := len(train.Classes())
	dim, size := vit.Config.Dim, vit.Config.ImageSize
	rng := nn.NewRNG(cfg.Seed)
	w := e.Param("head.weight", toF32(nn.Normal(rng, classes*dim, 0.01)), classes, dim)
	b := e.Param("head.bias", make([]float32, classes), classes)
	defer w.Free()
	defer b.Free()
	params := []nn.Named{{Name: "head.weight", Tensor: w}, {Name: "head.bias", Tensor: b}}
	lr0 := cfg.BaseLR * float64(cfg.BatchSize) / 256
	opt := nn.NewSGD(params, lr0, cfg.Momentum, cfg.WeightDecay)

	var cached []float32
	var cachedLabels []int32
	var loader *data.Loader
	var err error
	if cfg.CacheFeatures {
		if cached, cachedLabels, err = ExtractFeatures(e, vit, train, cfg.reading()); err != nil {
			return ProbeResult{}, err
		}
	} else {
		loader, err = data.NewLoader(train, data.NewLinearTrain(size), data.LoaderConfig{
			BatchSize: cfg.BatchSize, Workers: cfg.Workers, Seed: cfg.Seed, Shuffle: true, DropLast: true, SkipErrors: cfg.SkipErrors})
		if err != nil {
			return ProbeResult{}, err
		}
		defer loader.Close()
		if cfg.Skipped != nil {
			defer func() { cfg.Skipped.Add(loader.Skipped()) }()
		}
	}
	perm := make([]int, len(cachedLabels))
	feat := make([]float32, cfg.BatchSize*dim)
	lab := make([]int32, cfg.BatchSize)
	for epoch := 0; epoch < cfg.Epochs; epoch++ {
		opt.SetLR(lr0 * 0.5 * (1 + math.Cos(math.Pi*float64(epoch)/float64(cfg.Epochs))))
		var total float64
		var steps int
		// step trains on one batch; a loss that is not finite stops the
		// probe (its logits would score as hits).
		step := func(x *engine.Tensor, labels []int32) error {
			loss := engine.CrossEntropy(engine.Linear(x, w, b), labels)
			opt.ZeroGrad()
			e.Backward(loss)
			opt.Step()
			l := loss.Item()
			total += l
			steps++
			e.Reset()
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return fmt.Errorf("moco: linear probe diverged: loss %g at step %d of epoch %d (base lr %g, %g at batch %d; a lower lr, or a backbone whose features are finite)",
					l, steps, epoch+1, cfg.BaseLR, lr0, cfg.BatchSize)
			}
			return nil
		}
		if cfg.CacheFeatures {
			for i := range perm {
				perm[i] = i
			}
			r := nn.NewRNG(cfg.Seed + uint64(epoch) + 1)
			r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			for lo := 0; lo+cfg.BatchSize <= len(perm); lo += cfg.BatchSize {
				for i, p := range perm[lo : lo+cfg.BatchSize] {
					copy(feat[i*dim:(i+1)*dim], cached[p*dim:(p+1)*dim])
					lab[i] = cachedLabels[p]
				}
				if err := step(e.FromFloat32(feat, cfg.BatchSize, dim), lab); err != nil {
					return ProbeResult{}, err
				}
			}
		} else {
			for i := 0; i < loader.BatchesPerEpoch(); i++ {
				bt, err := loader.Next()
				if err != nil {
					return ProbeResult{}, err
				}
				x := e.FromFloat32(bt.Views[0][:bt.N*3*size*size], bt.N, 3, size, size)
				f := e.Detached(func() []*engine.Tensor { return []*engine.Tensor{vit.Forward(x)} })[0]
				if err := step(f, bt.Labels[:bt.N]); err != nil {
					return ProbeResult{}, err
				}
			}
		}
		if steps == 0 {
			return ProbeResult{}, fmt.Errorf("moco: %d training images make no batch of %d", train.Len(), cfg.BatchSize)
		}
		if progress != nil {
			progress(epoch, total/float64(steps))
		}
	}
	// Evaluate: resize + center crop, the probe on the features.
	vf, vl, err := ExtractFeatures(e, vit, val, cfg.reading())
	if err != nil {
		return ProbeResult{}, err
	}
	logits := e.Detached(func() []*engine.Tensor {
		return []*engine.Tensor{engine.Linear(e.FromFloat32(vf, len(vl), dim), w, b)}
	})[0].Data()
	e.Reset()
	for i, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return ProbeResult{}, fmt.Errorf("moco: linear probe: logit %d of evaluation image %d is %g (the backbone's features or the trained probe are not finite)", i%classes, i/classes, v)
		}
	}
	return scoreLogits(logits, vl, classes), nil
}

// reading is how the probe's evaluation passes read a set.
func (cfg ProbeConfig) reading() Reading {
	return Reading{Batch: cfg.BatchSize, Workers: cfg.Workers, SkipErrors: cfg.SkipErrors, Skipped: cfg.Skipped}
}

// scoreLogits scores logits [n, classes] against labels. A class that ties
// with the true one ranks above it when its index is lower, as argmax
// picks the first of equals, so that a probe whose logits are all equal
// scores chance, not 100%. A row with a NaN is a miss.
func scoreLogits(logits []float32, labels []int32, classes int) ProbeResult {
	var hit1, hit5 int
	for i, l := range labels {
		row := logits[i*classes : (i+1)*classes]
		if slices.ContainsFunc(row, func(v float32) bool { return v != v }) {
			continue
		}
		rank := 0 // classes ranked above the true one
		for j, v := range row {
			if v > row[l] || v == row[l] && j < int(l) {
				rank++
			}
		}
		if rank == 0 {
			hit1++
		}
		if rank < 5 {
			hit5++
		}
	}
	n := float64(max(len(labels), 1))
	return ProbeResult{Top1: float64(hit1) / n, Top5: float64(hit5) / n}
}

func toF32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
