package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/internal/cli"
	"github.com/mocogo/mocogo/kernels"
	"github.com/mocogo/mocogo/moco"
	"github.com/mocogo/mocogo/nn"
)

const torchStepScript = "scripts/torch/bench_cpu_step.py"

// runTrain times the whole MoCo v3 training step on the CPU (two views,
// base and momentum encoders, loss, backward, AdamW) and, with -anchor,
// the same step in PyTorch (scripts/torch/bench_cpu_step.py) with 1 and 2
// threads in the same run.
func runTrain(args []string) (err error) {
	fs := flag.NewFlagSet("bench train", flag.ContinueOnError)
	batch := fs.Int("batch", 128, "images per step")
	img := fs.Int("img", 32, "image size")
	patch := fs.Int("patch", 4, "patch size")
	dim := fs.Int("dim", 192, "ViT width")
	depth := fs.Int("depth", 6, "ViT depth")
	heads := fs.Int("heads", 3, "attention heads")
	mlpDim := fs.Int("mlp-dim", 1024, "projector/predictor hidden width")
	outDim := fs.Int("out-dim", 256, "projector/predictor output width")
	steps := fs.Int("steps", 8, "timed steps (median reported)")
	warmup := fs.Int("warmup", 2, "untimed steps first")
	threads := fs.String("threads", "", "comma-separated thread counts (default: 1 and all cores)")
	anchor := fs.Bool("anchor", false, "also time PyTorch ("+torchStepScript+") at each thread count")
	python := fs.String("python", "/usr/bin/python3", "Python with torch, for -anchor")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process's whole run (model building, warm-up and timed steps, every thread count; not PyTorch's) to this file, for go tool pprof")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cli.CheckArgs(fs, args); err != nil {
		return fmt.Errorf("bench train: %w", err)
	}
	if *steps < 1 || *warmup < 0 {
		return fmt.Errorf("bench train: -steps %d must be at least 1 and -warmup %d not negative", *steps, *warmup)
	}
	if *cpuProfile != "" {
		stop, err := cli.StartCPUProfile(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench train: %w", err)
		}
		defer func() {
			if serr := stop(); serr != nil && err == nil {
				err = fmt.Errorf("bench train: %w", serr)
			}
		}()
	}
	counts, err := countList("threads", *threads)
	if err != nil {
		return fmt.Errorf("bench train: %w", err)
	}
	cfg := moco.Config{ViT: nn.Config{ImageSize: *img, PatchSize: *patch, Dim: *dim, Depth: *depth, Heads: *heads}, MLPDim: *mlpDim, OutDim: *outDim, Temperature: 0.2}
	if err := cfg.Validate(); err != nil {
		return err
	}
	fmt.Printf("MoCo v3 CPU step: img %d patch %d dim %d depth %d heads %d, heads %d→%d, batch %d; %s\n",
		*img, *patch, *dim, *depth, *heads, *mlpDim, *outDim, *batch, cpuName())
	fmt.Printf("%-8s %-10s %12s %14s\n", "threads", "engine", "images/s", "peak RSS MiB")
	for _, n := range counts {
		ips, err := timeOurStep(cfg, *batch, *steps, *warmup, n)
		if err != nil {
			return err
		}
		fmt.Printf("%-8d %-10s %12.1f %14.0f\n", n, "mocogo", ips, peakRSSMiB())
		if *anchor {
			res, err := timeTorchStep(*python, *batch, *img, *patch, *dim, *depth, *heads, *mlpDim, *outDim, *steps, *warmup, n)
			if err != nil {
				return err
			}
			fmt.Printf("%-8d %-10s %12.1f %14.0f   ratio mocogo/torch %.2f\n", n, "torch "+res.Torch, res.ImagesPerS, res.PeakRSSMiB, ips/res.ImagesPerS)
		}
	}
	return nil
}

// timeOurStep builds a fresh model and times steps on random views.
func timeOurStep(cfg moco.Config, batch, steps, warmup, threads int) (float64, error) {
	kernels.SetThreads(threads)
	defer kernels.SetThreads(0)
	prev := runtime.GOMAXPROCS(threads)
	defer runtime.GOMAXPROCS(prev)
	e := engine.New(engine.NewCPU(engine.F32))
	m, err := moco.New(e, cfg, nn.NewRNG(0))
	if err != nil {
		return 0, err
	}
	tr, err := moco.NewTrainer(e, m, moco.DefaultTrainConfig(100, batch), 100)
	if err != nil {
		return 0, err
	}
	size := cfg.ViT.ImageSize
	r := rand.New(rand.NewPCG(1, 2))
	v1 := make([]float32, batch*3*size*size)
	v2 := make([]float32, len(v1))
	for i := range v1 {
		v1[i], v2[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	var times []float64
	for i := 0; i < warmup+steps; i++ {
		st, err := tr.TrainStep(v1, v2, batch, size, 10)
		if err != nil {
			return 0, err
		}
		if i >= warmup {
			times = append(times, st.Seconds)
		}
	}
	debug.FreeOSMemory()
	slices.Sort(times)
	return float64(batch) / times[len(times)/2], nil
}

type torchResult struct {
	Torch      string  `json:"torch"`
	ImagesPerS float64 `json:"images_per_s"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

func timeTorchStep(python string, batch, img, patch, dim, depth, heads, mlpDim, outDim, steps, warmup, threads int) (torchResult, error) {
	if _, err := os.Stat(torchStepScript); err != nil {
		return torchResult{}, fmt.Errorf("bench train -anchor: run from the repository root (%w)", err)
	}
	cmd := exec.Command(python, torchStepScript, "--threads", strconv.Itoa(threads), "--batch", strconv.Itoa(batch),
		"--img", strconv.Itoa(img), "--patch", strconv.Itoa(patch), "--dim", strconv.Itoa(dim), "--depth", strconv.Itoa(depth),
		"--heads", strconv.Itoa(heads), "--mlp-dim", strconv.Itoa(mlpDim), "--out-dim", strconv.Itoa(outDim),
		"--steps", strconv.Itoa(steps), "--warmup", strconv.Itoa(warmup))
	// PyTorch's matrix products run on OpenBLAS in Debian's build: give it
	// the same OpenBLAS settings as bench cpu's numpy anchor.
	script, err := findScript(numpyScript)
	if err != nil {
		return torchResult{}, err
	}
	env, _, note, err := anchorEnv(python, script, threads)
	if errors.Is(err, errNoOpenBLAS) {
		// A PyTorch on its own BLAS (MKL in the pip wheels): nothing to steer.
		env, note = plainAnchorEnv(threads), "no OpenBLAS: PyTorch's own BLAS"
	} else if err != nil {
		return torchResult{}, fmt.Errorf("bench train: %w", err)
	}
	if note != "" {
		fmt.Printf("# torch at %d threads: %s\n", threads, note)
	}
	cmd.Env = env
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return torchResult{}, fmt.Errorf("bench train: %s: %w", torchStepScript, err)
	}
	var r torchResult
	if err := json.Unmarshal(out, &r); err != nil {
		return torchResult{}, fmt.Errorf("bench train: reading %s output %q: %w", torchStepScript, out, err)
	}
	return r, nil
}

// peakRSSMiB is this process's peak resident memory.
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}

// countList reads a flag's comma-separated list of positive counts
// (threads, workers): by default (an empty list) 1 and all cores. Equal
// counts side by side are run once.
func countList(flag, list string) ([]int, error) {
	counts := []int{1, runtime.NumCPU()}
	if list != "" {
		counts = nil
		for _, f := range strings.Split(list, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("bad -%s entry %q", flag, f)
			}
			counts = append(counts, n)
		}
	}
	return slices.Compact(counts), nil
}

// cpuName is the processor's model name from /proc/cpuinfo, or "".
func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
