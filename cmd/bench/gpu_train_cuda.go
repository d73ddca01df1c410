//go:build cuda

package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
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
// loss, backward and AdamW. Wall-clock per step (each step ends by reading
// the loss, which waits for the GPU), median of the timed steps after
// warm-up; peak memory is the caching allocator's. MOCOGO_TRAIN_BATCH and
// MOCOGO_TRAIN_STEPS override the batch and the timed steps.
func (b *gpuBench) trainBench() error {
	batch := envInt("MOCOGO_TRAIN_BATCH", 256)
	steps := envInt("MOCOGO_TRAIN_STEPS", 5)
	const size = 224
	cfg := moco.DefaultConfig(nn.ViTSmall(size, 16))
	gb := cuda.NewBackend(b.d)
	e := engine.New(gb)
	t0 := time.Now()
	m, err := moco.New(e, cfg, nn.NewRNG(1))
	if err != nil {
		return err
	}
	tr, err := moco.NewTrainer(e, m, moco.DefaultTrainConfig(100, batch), 1000)
	if err != nil {
		return err
	}
	fmt.Printf("train: ViT-S/16 %d px, batch %d, model built in %.1f s\n", size, batch, time.Since(t0).Seconds())
	r := rand.New(rand.NewPCG(1, 2))
	n := batch * 3 * size * size
	v1, v2 := make([]float32, n), make([]float32, n)
	// A prime-length block of random values tiled over the views keeps
	// the host side quick.
	blk := make([]float32, 2*(1<<20+7))
	for i := range blk {
		blk[i] = float32(r.NormFloat64())
	}
	for i := range v1 {
		v1[i] = blk[i%(1<<20+7)]
		v2[i] = blk[1<<20+7+i%(1<<20+7)]
	}
	var secs []float64
	for s := 0; s < 2+steps; s++ {
		st, err := tr.TrainStep(v1, v2, batch, size, 10+float64(s)/1000)
		if err != nil {
			return err
		}
		fmt.Printf("train: step %d loss %.5f %.1f ms\n", s, st.Loss, 1e3*st.Seconds)
		if s >= 2 {
			secs = append(secs, st.Seconds)
		}
	}
	sort.Float64s(secs)
	med := secs[len(secs)/2]
	result("train_vits16_224_b"+strconv.Itoa(batch)+"_img_per_s", float64(batch)/med, "img/s", 1e3*med)
	result("train_vits16_224_b"+strconv.Itoa(batch)+"_peak_mib", float64(gb.PeakBytes()>>20), "MiB", 1e3*med)
	return nil
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
