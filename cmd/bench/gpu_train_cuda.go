//go:build cuda

package main

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/engine/cuda"
	"github.com/mocogo/mocogo/moco"
	"github.com/mocogo/mocogo/nn"
)

// trainBench times one whole MoCo v3 step at 224 px (projector/predictor
// 4096 → 256) on the CUDA backend through the engine: both views through
// base and momentum encoders, the loss, backward and AdamW, on synthetic
// views (moco.SyntheticViews) made once. A step reads back from the GPU
// once, before its update, so its AdamW still runs when TrainStep returns:
// the timed steps are measured together, wall-clock from the first to a
// read-back after the last (Trainer.WeightNorm), and reported per step; the
// per-step lines show each step's own host time. Peak memory is the caching
// allocator's.
//
// The environment picks the configuration: MOCOGO_TRAIN_ARCH vit_small
// (default, batch 256) or vit_base (batch 128); MOCOGO_TRAIN_BATCH and
// MOCOGO_TRAIN_STEPS override the batch and the timed steps;
// MOCOGO_TRAIN_PRECISION fp16 (default: autocast with dynamic loss
// scaling, the official recipe), bf16 or fp32; MOCOGO_TRAIN_LOSS_SCALE=0
// or 1 overrides the scaling.
func (b *gpuBench) trainBench() error {
	arch := os.Getenv("MOCOGO_TRAIN_ARCH")
	vit, defBatch, tag := nn.ViTSmall(224, 16), 256, "vits16"
	switch arch {
	case "", "vit_small":
	case "vit_base":
		vit, defBatch, tag = nn.ViTBase(224, 16), 128, "vitb16"
	default:
		return fmt.Errorf("MOCOGO_TRAIN_ARCH %q: want vit_small or vit_base", arch)
	}
	precision := os.Getenv("MOCOGO_TRAIN_PRECISION")
	if precision == "" {
		precision = "fp16"
	}
	half := map[string]engine.DType{"fp16": engine.F16, "bf16": engine.BF16, "fp32": engine.F32}
	dt, ok := half[precision]
	if !ok {
		return fmt.Errorf("MOCOGO_TRAIN_PRECISION %q: want fp16, bf16 or fp32", precision)
	}
	batch := envInt("MOCOGO_TRAIN_BATCH", defBatch)
	steps := envInt("MOCOGO_TRAIN_STEPS", 5)
	const size, warmup = 224, 2
	cfg := moco.DefaultConfig(vit)
	gb := cuda.NewBackend(b.d)
	e := engine.New(gb)
	if err := e.SetAutocast(dt); err != nil {
		return err
	}
	t0 := time.Now()
	m, err := moco.New(e, cfg, nn.NewRNG(1))
	if err != nil {
		return err
	}
	tc := moco.DefaultTrainConfig(100, batch)
	name := "train_" + tag + "_224_b" + strconv.Itoa(batch) + "_" + precision
	scale := os.Getenv("MOCOGO_TRAIN_LOSS_SCALE")
	if scale == "1" || scale == "" && dt == engine.F16 {
		tc.LossScale = moco.DynamicLossScale()
	}
	if scale == "1" || scale == "0" {
		name += "_lossscale" + scale
	}
	// Kernels chosen through the environment (cuda.Open applies
	// MOCOGO_GEMM_KERNEL, MOCOGO_ATTN_KERNEL, MOCOGO_GEMM_STAGED,
	// MOCOGO_GEMM_STAGGER, MOCOGO_GEMM_RESIDUAL, MOCOGO_GEMM_GELU_GRAD,
	// MOCOGO_GEMM_STREAMK, MOCOGO_GEMM_PREFETCH, MOCOGO_GEMM_DEEP_STORE,
	// MOCOGO_GEMM_WIDE_BOXES, MOCOGO_GEMM_EARLY_RELEASE and
	// MOCOGO_GEMM_LOOKAHEAD) name their own keys.
	if v := os.Getenv("MOCOGO_GEMM_KERNEL"); v != "" {
		name += "_gemm" + v
	}
	if v := os.Getenv("MOCOGO_ATTN_KERNEL"); v != "" {
		name += "_attn" + v
	}
	for _, e := range []struct{ env, value, suffix string }{
		{"MOCOGO_GEMM_STAGED", "0", "_direct"},
		{"MOCOGO_GEMM_STAGGER", "1", "_stagger"},
		{"MOCOGO_GEMM_RESIDUAL", "1", "_residual"},
		{"MOCOGO_GEMM_GELU_GRAD", "1", "_gelugrad"},
		{"MOCOGO_GEMM_STREAMK", "1", "_streamk"},
		{"MOCOGO_GEMM_PREFETCH", "1", "_prefetch"},
		{"MOCOGO_GEMM_DEEP_STORE", "1", "_deepstore"},
		{"MOCOGO_GEMM_WIDE_BOXES", "1", "_wideboxes"},
		{"MOCOGO_GEMM_EARLY_RELEASE", "1", "_early"},
		{"MOCOGO_GEMM_LOOKAHEAD", "4", "_look4"},
		{"MOCOGO_GEMM_LOOKAHEAD", "8", "_look8"},
		{"MOCOGO_GEMM_LOOKAHEAD", "16", "_look16"},
	} {
		if os.Getenv(e.env) == e.value {
			name += e.suffix
		}
	}
	tr, err := moco.NewTrainer(e, m, tc, 1000)
	if err != nil {
		return err
	}
	fmt.Printf("train: %s/16 %d px, batch %d, %s, model built in %.1f s\n", tag, size, batch, precision, time.Since(t0).Seconds())
	// The views are uploaded once and kept, as torch_train.py keeps its
	// inputs on the GPU: the step alone is timed, without the 2 × 154 MB
	// upload a real input pipeline adds (pretrain does that).
	v1, v2 := moco.SyntheticViews(batch, size, 1)
	x1 := e.FromFloat32(v1, batch, 3, size, size).Keep()
	x2 := e.FromFloat32(v2, batch, 3, size, size).Keep()
	defer x1.Free()
	defer x2.Free()
	var t1 time.Time
	for s := 0; s < warmup+steps; s++ {
		if s == warmup {
			tr.WeightNorm() // the warm-up's work done
			t1 = time.Now()
		}
		st, err := tr.TrainStepOn(x1, x2, 10+float64(s)/1000)
		if err != nil {
			return err
		}
		fmt.Printf("train: step %d loss %.5f scale %g skipped %v, %.1f ms on the host\n", s, st.Loss, st.LossScale, st.Skipped, 1e3*st.Seconds)
	}
	tr.WeightNorm() // waits for the last update
	per := time.Since(t1).Seconds() / float64(steps)
	rate := float64(batch) / per
	result(name+"_img_per_s", rate, "img/s", 1e3*per)
	result(name+"_peak_mib", float64(gb.PeakBytes()>>20), "MiB", 1e3*per)
	// A projection, not a measurement (docs/BENCHMARKS.md, "How the
	// 300-epoch projection will be made"): the paper's 300 epochs of
	// ImageNet-1k on 8 GPUs at this rate each, with perfect scaling (a
	// bound) and at 90% scaling efficiency.
	const imagenet, epochs, gpus = 1281167, 300, 8
	for _, eff := range []struct {
		key string
		e   float64
	}{{"e100", 1}, {"e90", 0.9}} {
		hours := epochs * imagenet / (gpus * rate * eff.e) / 3600
		fmt.Printf("train: projection, not measured: %d epochs of ImageNet-1k on %d GPUs at %.0f img/s each, scaling efficiency %.0f%%: %.1f h\n",
			epochs, gpus, rate, 100*eff.e, hours)
		result(name+"_projected_300ep_8gpu_"+eff.key+"_hours", hours, "h", 1e3*per)
	}
	// Whether the multi-tensor tables (norms, EMA, unscale) stay on the
	// device across steps: an upload mid-step waits for the queued work.
	ts := gb.TableStats()
	fmt.Printf("train: multi-tensor tables over %d steps: %d found on the device, %d uploaded\n", warmup+steps, ts.Hits, ts.Uploads)
	if os.Getenv("MOCOGO_TRAIN_PROFILE") == "0" {
		return nil
	}
	// One more step with every launch timed (cuda.Device.StartProfile):
	// where the step's time goes, and how much of it the GPU ran none of
	// our kernels (launch gaps, the loss read-back).
	if err := b.d.StartProfile(); err != nil {
		return err
	}
	t2 := time.Now()
	if _, err := tr.TrainStepOn(x1, x2, 10); err != nil {
		b.d.StopProfile()
		return err
	}
	p, err := b.d.StopProfile() // waits for the step's queued work (its AdamW)
	wall := time.Since(t2).Seconds()
	if err != nil {
		return err
	}
	printStepProfile(name, p, wall, per)
	// MOCOGO_GEMM_KERNEL=tune: the kernel and settings each product shape
	// got, beside every candidate's time.
	for _, g := range b.d.GemmTunings() {
		fmt.Printf("tune: %-28s chose %-14v", g.Shape, g.Chose)
		for _, ch := range g.Timed {
			fmt.Printf(" %v %.3f ms", ch, g.Ms[ch])
		}
		if len(g.Rejected) > 0 {
			fmt.Printf("; refused: %v", g.Rejected)
		}
		fmt.Println()
	}
	return nil
}

// kernelGroup names the part of the step a kernel belongs to.
func kernelGroup(kernel string) string {
	_, k, _ := strings.Cut(kernel, ".")
	switch {
	case strings.Contains(k, "splitk_reduce"), strings.Contains(k, "streamk_reduce"):
		return "gemm_splitk_reduce"
	case strings.HasPrefix(k, "gemm_"):
		return "gemm"
	case strings.HasPrefix(k, "attn_"):
		return "attention"
	case strings.HasPrefix(k, "layernorm"):
		return "layernorm"
	case strings.HasPrefix(k, "opt_"):
		return "optimizer"
	case strings.HasPrefix(kernel, "rowcol."):
		return "rowcol"
	default:
		return "elementwise"
	}
}

// printStepProfile prints the profiled step: its span and busy time, the
// time by group of kernels (also as RESULT lines), and the longest kernels
// by kernel and grid (a grid stands for a shape). Each kernel's time runs
// from an event recorded just before its launch: where the GPU waits for
// the host, that wait counts as the kernel's, so busy is an upper bound
// and the time without a kernel a lower bound on the launch gaps.
func printStepProfile(name string, p cuda.Profile, wall, per float64) {
	fmt.Printf("profile: one step with every launch timed: wall %.1f ms (unprofiled %.1f ms), GPU span %.1f ms, kernels busy ≤ %.1f ms (%.0f%%), ≥ %.1f ms without a kernel of ours\n",
		1e3*wall, 1e3*per, p.SpanMs, p.BusyMs, 100*p.BusyMs/max(p.SpanMs, 1e-9), p.SpanMs-p.BusyMs)
	groups := map[string]float64{}
	launches := 0
	for _, k := range p.Kernels {
		groups[kernelGroup(k.Kernel)] += k.Ms
		launches += k.Launches
	}
	fmt.Printf("profile: %d launches\n", launches)
	names := slices.Sorted(maps.Keys(groups))
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(groups[b], groups[a]) })
	for _, g := range names {
		fmt.Printf("profile: %-20s %8.2f ms %5.1f%%\n", g, groups[g], 100*groups[g]/max(p.BusyMs, 1e-9))
		result(name+"_prof_"+g+"_ms", groups[g], "ms", p.SpanMs)
	}
	result(name+"_prof_busy_ms", p.BusyMs, "ms", p.SpanMs)
	result(name+"_prof_span_ms", p.SpanMs, "ms", p.SpanMs)
	fmt.Println("profile: by kernel")
	for i, k := range p.ByKernel() {
		if i == 25 {
			break
		}
		fmt.Printf("profile:   %-48s %5d launches %8.2f ms %5.1f%%\n", k.Kernel, k.Launches, k.Ms, 100*k.Ms/max(p.BusyMs, 1e-9))
	}
	fmt.Println("profile: by kernel and grid")
	for i, k := range p.Kernels {
		if i == 30 {
			break
		}
		fmt.Printf("profile:   %-48s grid %-14s %4d launches %8.2f ms (%.3f ms each)\n", k.Kernel,
			fmt.Sprintf("%dx%dx%d", k.Grid.X, k.Grid.Y, k.Grid.Z), k.Launches, k.Ms, k.Ms/float64(k.Launches))
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
