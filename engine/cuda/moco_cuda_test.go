//go:build cuda

package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/moco"
	"github.com/mocogo/mocogo/nn"
)

// TestMoCoTrainMatchesCPU trains the same small MoCo v3 model (ViT img 32,
// patch 8, dim 64, depth 2, 2 heads of 32, MLP 128, out 32; batch 16) from
// the same seed on the CUDA backend and on the CPU for 20 steps of
// moco.Trainer on the same image-like random views: the losses must track
// within 2% (relative) at every step, and the parameters must stay close.
// (On white-noise views the runs parted by 2.3% at step 19 on an H100, the
// BatchNorm effect TestMoCoTrain200MatchesCPU describes: the GEMMs round
// their operands to fp16 even on fp32 storage.)
func TestMoCoTrainMatchesCPU(t *testing.T) {
	trainVsCPU(t, trainCheck{steps: 20, checkEvery: 1, checkParams: true, imageLike: true})
}

// TestMoCoTrain200MatchesCPU is the numerics check, in the mode
// the GPU trains in (fp16 autocast with dynamic loss scaling, as
// `pretrain --device cuda` does): the same comparison over 200 steps (a
// whole cosine schedule), the loss within 1% (the issue asks 2%) at every
// 10th step and the last, at lr 2e-5. Why that rate: on the CPU, an fp32
// run whose initial weights were perturbed by 5e-4 relative (fp16's
// rounding) parts from the unperturbed one by up to 3% within 200 steps at
// the paper's 1.5e-4, so there a 2% bound measures the run's chaos, not
// our numerics; at 2e-5 that control stays within 0.23%, fp16 autocast
// (emulated) within 0.17%, while a run that does not learn (lr ~0) parts
// by 3.1% and one at half the rate (a gradient off by 2×) by 1.6%: 1%
// separates them. The views are image-like (each image's channels with their own
// offset and contrast): with white noise every image's features are
// nearly equal, BatchNorm then divides half-precision rounding by a tiny
// spread, and the runs part for that reason alone (seen on the CPU's
// emulation, moco.TestAutocastTrainingTracksFloat32). The parameters are
// only reported: over 200 steps Adam turns rounding differences of
// near-zero gradients into whole updates, which a chaotic run amplifies
// without anything being wrong (see the note on the learning rate in
// trainVsCPU). Each GPU step must read back from the device exactly once.
func TestMoCoTrain200MatchesCPU(t *testing.T) {
	trainVsCPU(t, trainCheck{steps: 200, checkEvery: 10, autocast: engine.F16, scaled: true, imageLike: true, lr: 2e-5, lossTol: 0.01})
}

// TestMoCoTrainF16MatchesCPU: fp16 autocast with loss scaling against the
// fp32 CPU run, every step of 20, on image-like views.
func TestMoCoTrainF16MatchesCPU(t *testing.T) {
	trainVsCPU(t, trainCheck{steps: 20, checkEvery: 1, autocast: engine.F16, scaled: true, imageLike: true})
}

// TestMoCoTrainLossScaledMatchesCPU runs the GPU side with dynamic loss
// scaling (2^16) against the unscaled CPU run: the losses track as
// without scaling. At step 8 the GPU's scale is forced to 2^125, where
// the backward overflows float32 (and 1/scale is still a normal float32,
// whatever the kernels' flush-to-zero): those steps must be skipped on the
// device (the CPU twin then runs only the forward, which moves the
// momentum encoder and the BN statistics as the skipped step does) until
// the scale has come down, and the runs must still agree afterwards.
// Image-like views, at TestMoCoTrain200MatchesCPU's lr 2e-5: at the paper's
// 1.5e-4 the two runs parted by 0.2–0.35% until step 16 and then by up to
// 2.4% by step 29 on an H100, the chaos that test's note measures, not the
// skipping this test is about.
func TestMoCoTrainLossScaledMatchesCPU(t *testing.T) {
	trainVsCPU(t, trainCheck{steps: 40, checkEvery: 1, scaled: true, forceAt: 8, imageLike: true, lr: 2e-5})
}

// TestMoCoTrainBF16MatchesCPU runs the GPU side under bf16 autocast
// (Engine.SetAutocast(BF16): bf16 activations, GEMM operands on the bf16
// tensor-core kernels, attention through the bf16 kernels; no loss
// scaling, which bf16's fp32-sized range makes unneeded) against the fp32
// CPU run for 20 steps: the losses within 3% at every step (bf16's 8
// significant bits round each activation about 8× more coarsely than
// fp16's 11). The parameters are only reported.
func TestMoCoTrainBF16MatchesCPU(t *testing.T) {
	trainVsCPU(t, trainCheck{steps: 20, checkEvery: 1, autocast: engine.BF16, lossTol: 0.03, imageLike: true})
}

type trainCheck struct {
	steps       int
	checkEvery  int          // compare the losses every this many steps (and at the last)
	checkParams bool         // require the weight matrices within 10% at the end
	scaled      bool         // dynamic loss scaling on the GPU side
	forceAt     int          // with scaled: force the scale to 2^125 before this step (0: never)
	autocast    engine.DType // the GPU engine's autocast type (F32, the zero value: off)
	lossTol     float64      // the relative loss difference allowed (0: 2%)
	imageLike   bool         // views with a per-image, per-channel offset and contrast
	lr          float64      // the learning rate at batch 256 (0: the paper's 1.5e-4)
}

// countingBackend counts the CUDA backend's read-backs through the engine.
type countingBackend struct {
	*Backend
	reads int
}

func (c *countingBackend) Download(dst []float64, src engine.Storage) {
	c.reads++
	c.Backend.Download(dst, src)
}

func (c *countingBackend) Download32(dst []float32, src engine.Storage) {
	c.reads++
	c.Backend.Download32(dst, src)
}

func trainVsCPU(t *testing.T, c trainCheck) {
	const (
		batch = 16
		size  = 32
	)
	cfg := moco.Config{
		ViT:         nn.Config{ImageSize: size, PatchSize: 8, Dim: 64, Depth: 2, Heads: 2, MLPRatio: 2},
		MLPDim:      128,
		OutDim:      32,
		Temperature: 0.2,
	}
	tc := moco.DefaultTrainConfig(1, batch)
	// lr 1.5e-4, the paper's ViT rate at batch 256. (At lr 1e-3 the two
	// runs agreed to 1e-5 for two steps and then drifted 1-2% per step on
	// an H100: Adam's first steps move every weight by about lr whatever
	// the gradient's size, so fp16 rounding of near-zero gradients flips
	// whole updates; that is divergence of a chaotic run, not a bug.)
	lr := 1.5e-4
	if c.lr > 0 {
		lr = c.lr
	}
	tc.BaseLR = lr * 256 / float64(batch)
	tc.WarmupEpochs = 0.1
	gtc := tc
	if c.scaled {
		gtc.LossScale = moco.DynamicLossScale()
	}

	gb := &countingBackend{Backend: NewBackend(dev)}
	engines := []*engine.Engine{engine.New(gb), engine.New(engine.NewCPU(engine.F32))}
	trainers := make([]*moco.Trainer, 2)
	if c.autocast != engine.F32 {
		must(t, engines[0].SetAutocast(c.autocast))
	}
	tol := 0.02
	if c.lossTol > 0 {
		tol = c.lossTol
	}
	for i, e := range engines {
		m, err := moco.New(e, cfg, nn.NewRNG(7))
		must(t, err)
		rc := tc
		if i == 0 {
			rc = gtc
		}
		if trainers[i], err = moco.NewTrainer(e, m, rc, c.steps); err != nil {
			t.Fatal(err)
		}
	}
	gpu, cpu := trainers[0], trainers[1]
	r := rand.New(rand.NewPCG(11, 12))
	n := batch * 3 * size * size
	v1, v2 := make([]float32, n), make([]float32, n)
	worst := 0.0
	skipped, takenAfter := 0, 0
	for s := 0; s < c.steps; s++ {
		fillViews(r, v1, v2, batch, c.imageLike)
		epoch := float64(s) / float64(c.steps)
		if c.scaled && s == c.forceAt && c.forceAt > 0 {
			if err := gpu.Scaler.SetState(moco.LossScaleState{Scale: 0x1p125}); err != nil {
				t.Fatal(err)
			}
		}
		gb.reads = 0
		g, err := gpu.TrainStep(v1, v2, batch, size, epoch)
		if err != nil {
			t.Fatalf("step %d on the GPU: %v", s, err)
		}
		if gb.reads != 1 {
			t.Errorf("step %d: %d read-backs from the GPU, want 1", s, gb.reads)
		}
		var cl float64
		if g.Skipped {
			if !c.scaled || s < c.forceAt {
				t.Fatalf("step %d skipped on the GPU at loss scale %g (gradient norm %v)", s, g.LossScale, g.GradNorm)
			}
			// What the skipped step did: the forward (momentum EMA, BN
			// statistics), no update.
			e := cpu.E
			cl = cpu.Model.Loss(e.FromFloat32(v1, batch, 3, size, size), e.FromFloat32(v2, batch, 3, size, size), cpu.Cfg.Momentum(epoch)).Item()
			e.Reset()
			skipped++
		} else {
			st, err := cpu.TrainStep(v1, v2, batch, size, epoch)
			if err != nil {
				t.Fatalf("step %d on the CPU: %v", s, err)
			}
			cl = st.Loss
			if c.forceAt > 0 && s >= c.forceAt {
				takenAfter++
			}
		}
		rel := math.Abs(g.Loss-cl) / math.Abs(cl)
		check := s%c.checkEvery == 0 || s == c.steps-1
		if check {
			worst = max(worst, rel)
			t.Logf("step %3d  lr %.2e  scale %-8g skipped %-5v loss gpu %.6f cpu %.6f  rel %.2e  (gpu %.1f ms)",
				s, g.LR, g.LossScale, g.Skipped, g.Loss, cl, rel, 1e3*g.Seconds)
		}
		if math.IsNaN(g.Loss) || check && rel > tol {
			t.Fatalf("step %d: GPU loss %v, CPU loss %v (relative difference %.3g > %g)", s, g.Loss, cl, rel, tol)
		}
	}
	t.Logf("worst relative loss difference at the checked steps %.3g", worst)
	if c.forceAt > 0 {
		t.Logf("%d steps skipped on the GPU after the forced scale, %d taken; scale now %g", skipped, takenAfter, gpu.Scaler.Scale())
		if skipped == 0 || takenAfter < 10 || gpu.SkippedSteps != skipped {
			t.Errorf("forced overflow: %d steps skipped (trainer counts %d), %d taken after; want some skipped and at least 10 taken",
				skipped, gpu.SkippedSteps, takenAfter)
		}
	}
	// The trained parameters agree too.
	pg, pc := gpu.Model.Parameters(), cpu.Model.Parameters()
	for i := range pg {
		a, b := pg[i].Tensor.Float64s(), pc[i].Tensor.Float64s()
		var num, den float64
		for j := range a {
			if math.IsNaN(a[j]) {
				t.Fatalf("%s: NaN on the GPU", pg[i].Name)
			}
			num += (a[j] - b[j]) * (a[j] - b[j])
			den += b[j] * b[j]
		}
		rel := 0.0
		if den > 0 {
			rel = math.Sqrt(num / den)
		}
		// Weight matrices only: Adam turns the rounding noise of a tiny
		// gradient (zero-initialised biases) into a full-size step, so
		// those may differ more without anything being wrong.
		if c.checkParams && pg[i].Tensor.Rank() == 2 && rel > 0.1 {
			t.Errorf("%s: parameters differ by %.3g (relative)", pg[i].Name, rel)
		} else if rel > 0.01 {
			t.Logf("%s %v: parameters differ by %.3g (relative)", pg[i].Name, pg[i].Tensor.Shape(), rel)
		}
	}
	t.Logf("GPU allocator peak %d MiB", gb.PeakBytes()>>20)
}

// fillViews draws the step's views: white noise, or with imageLike each
// image's channels get their own offset and contrast, so that features
// differ across the batch as they do for real images.
func fillViews(r *rand.Rand, v1, v2 []float32, batch int, imageLike bool) {
	per := len(v1) / batch / 3
	for _, v := range [][]float32{v1, v2} {
		for i := range batch {
			for c := range 3 {
				off, sc := 0.0, 1.0
				if imageLike {
					off, sc = r.NormFloat64(), 0.2+r.Float64()
				}
				for j := range per {
					v[(i*3+c)*per+j] = float32(off + sc*r.NormFloat64())
				}
			}
		}
	}
}
