//go:build cuda

package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/engine/cuda"
	"github.com/mocogo/mocogo/moco"
	"github.com/mocogo/mocogo/nn"
)

// trainBench times one whole MoCo v3 step of ViT-S/16 at 224 px (12 heads,
// projector/predictor 4096 → 256, batch 256 by default) on the CUDA backend
// through the engine: both views through base and momentum encoders, the
// loss, backward and AdamW, on synthetic views (moco.SyntheticViews) made
// once. A step reads back from the GPU once, before its update, so its
// AdamW still runs when TrainStep returns: the timed steps are measured
// together, wall-clock from the first to a read-back after the last
// (Trainer.WeightNorm), and reported per step; the per-step lines show
// each step's own host time. Peak memory is the caching allocator's.
// MOCOGO_TRAIN_BATCH and MOCOGO_TRAIN_STEPS override the batch and the
// timed steps; MOCOGO_TRAIN_LOSS_SCALE=1 turns dynamic loss scaling on.
func (b *gpuBench) trainBench() error {
	batch := envInt("MOCOGO_TRAIN_BATCH", 256)
	steps := envInt("MOCOGO_TRAIN_STEPS", 5)
	const size, warmup = 224, 2
	cfg := moco.DefaultConfig(nn.ViTSmall(size, 16))
	gb := cuda.NewBackend(b.d)
	e := engine.New(gb)
	t0 := time.Now()
	m, err := moco.New(e, cfg, nn.NewRNG(1))
	if err != nil {
		return err
	}
	tc := moco.DefaultTrainConfig(100, batch)
	name := "train_vits16_224_b" + strconv.Itoa(batch)
	if os.Getenv("MOCOGO_TRAIN_LOSS_SCALE") == "1" {
		tc.LossScale = moco.DynamicLossScale()
		name += "_lossscale"
	}
	tr, err := moco.NewTrainer(e, m, tc, 1000)
	if err != nil {
		return err
	}
	fmt.Printf("train: ViT-S/16 %d px, batch %d, model built in %.1f s\n", size, batch, time.Since(t0).Seconds())
	v1, v2 := moco.SyntheticViews(batch, size, 1)
	var t1 time.Time
	for s := 0; s < warmup+steps; s++ {
		if s == warmup {
			tr.WeightNorm() // the warm-up's work done
			t1 = time.Now()
		}
		st, err := tr.TrainStep(v1, v2, batch, size, 10+float64(s)/1000)
		if err != nil {
			return err
		}
		fmt.Printf("train: step %d loss %.5f scale %g skipped %v, %.1f ms on the host\n", s, st.Loss, st.LossScale, st.Skipped, 1e3*st.Seconds)
	}
	tr.WeightNorm() // waits for the last update
	per := time.Since(t1).Seconds() / float64(steps)
	result(name+"_img_per_s", float64(batch)/per, "img/s", 1e3*per)
	result(name+"_peak_mib", float64(gb.PeakBytes()>>20), "MiB", 1e3*per)
	return nil
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
