// Command lincls measures what a pretrained backbone learned: a linear
// probe on its frozen features (MoCo v3's main_lincls.py recipe) and a
// weighted kNN classifier (k = 200, t = 0.1, as in the MoCo CIFAR demo).
//
//	lincls --pretrained out/pretrain/checkpoint.safetensors [--data DIR]
//	lincls --pretrained vit-s-300ep.pth.tar --data DIR   (official MoCo v3 weights)
//
// With no --data it evaluates on Fashion-MNIST (train / test splits).
// --val names the evaluation images (ImageNet's val folder, say);
// without it, datasets without a test split hold out --holdout images
// per class.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/internal/cli"
	"github.com/mocogo/mocogo/internal/device"
	"github.com/mocogo/mocogo/kernels"
	"github.com/mocogo/mocogo/moco"
	"github.com/mocogo/mocogo/moco/data"
	"github.com/mocogo/mocogo/nn"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "lincls:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lincls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pretrained := fs.String("pretrained", "", "backbone.safetensors or checkpoint.safetensors written by pretrain, an official MoCo v3 .pth.tar, or a timm/DeiT .pth state dict (required; \"random\" for a random-init baseline)")
	dataPath := fs.String("data", "", "labelled images (same formats as pretrain; default Fashion-MNIST)")
	arch := fs.String("arch", "", "vit_tiny, vit_small or vit_base (default: from the checkpoint)")
	img := fs.Int("img", 0, "image size (default: from the checkpoint)")
	patch := fs.Int("patch", 0, "patch size (default: from the checkpoint)")
	dim := fs.Int("dim", 0, "ViT width (default: from the checkpoint)")
	depth := fs.Int("depth", 0, "ViT depth (default: from the checkpoint)")
	heads := fs.Int("heads", 0, "attention heads (default: from the checkpoint; for .pth files MoCo v3's: 12 at width 384 and 768, 3 at 192; DeiT-S has 6)")
	mode := fs.String("mode", "both", "linear, knn or both")
	epochs := fs.Int("epochs", 90, "linear-probe epochs")
	batch := fs.Int("batch", 256, "batch size")
	lr := fs.Float64("lr", 3, "base learning rate of the probe; the rate used is lr·batch/256")
	cache := fs.Bool("cache-features", false, "train the probe on features computed once (fast) instead of fresh augmented views")
	valPath := fs.String("val", "", "evaluation images, in any format --data takes (ImageNet's val folder, say); their classes must be --data's, in the same order (default: the data's own test split, else --holdout images per class of --data)")
	holdout := fs.Int("holdout", 100, "images per class held out for evaluation when there is no --val and the data has no test split")
	limit := fs.Int("limit", 0, "use at most this many training images (0: all)")
	knnK := fs.Int("knn-k", 200, "neighbours of the kNN classifier")
	workers := fs.Int("workers", runtime.NumCPU(), "decoding goroutines")
	threads := fs.Int("threads", 0, "compute threads (default: all cores)")
	seed := fs.Uint64("seed", 0, "seed")
	skipBad := fs.Bool("skip-bad", false, "where an image cannot be read or decoded, use another of the set in its place (chosen deterministically) instead of stopping")
	dev := fs.String("device", "cpu", "compute device: cpu, or cuda (binaries built with -tags cuda)")
	precision := fs.String("precision", "auto", "arithmetic of the frozen backbone and the probe: fp32; fp16 or bf16 (autocast, float32 weights and statistics); auto is fp16 on cuda, fp32 on cpu")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := cli.CheckArgs(fs, args, "data", "val"); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["val"] && set["holdout"] {
		return errors.New("--holdout holds images of --data out for evaluation, and --val gives images of its own: give one")
	}
	if *pretrained == "" {
		return errors.New("--pretrained is required (a file written by pretrain, or \"random\")")
	}
	if *mode != "linear" && *mode != "knn" && *mode != "both" {
		return fmt.Errorf("--mode %q: want linear, knn or both", *mode)
	}
	// Shapes left at 0 come from the file; given, they must be positive.
	if err := cli.CheckSizes(set, cli.IntFlag{Name: "img", Value: *img}, cli.IntFlag{Name: "patch", Value: *patch},
		cli.IntFlag{Name: "dim", Value: *dim}, cli.IntFlag{Name: "depth", Value: *depth}, cli.IntFlag{Name: "heads", Value: *heads}); err != nil {
		return err
	}
	if err := cli.CheckPositive(cli.IntFlag{Name: "batch", Value: *batch}, cli.IntFlag{Name: "knn-k", Value: *knnK},
		cli.IntFlag{Name: "workers", Value: *workers}); err != nil {
		return err
	}
	if err := cli.CheckNonNegative(cli.IntFlag{Name: "threads", Value: *threads}, cli.IntFlag{Name: "limit", Value: *limit},
		cli.IntFlag{Name: "holdout", Value: *holdout}); err != nil {
		return err
	}
	// substituted counts the images --skip-bad replaced, in every pass.
	var substituted atomic.Int64
	probe := moco.ProbeConfig{Epochs: *epochs, BatchSize: *batch, BaseLR: *lr, Momentum: 0.9, CacheFeatures: *cache, Seed: *seed, Workers: *workers,
		SkipErrors: *skipBad, Skipped: &substituted}
	if *mode != "knn" {
		// Checked before the kNN pass, which may take long.
		if err := probe.Validate(); err != nil {
			return err
		}
	}
	if *threads > 0 {
		kernels.SetThreads(*threads)
	}

	// The architecture: from the file's metadata unless given.
	cfg, err := backboneConfig(*pretrained, *heads)
	if err != nil {
		return err
	}
	train, val, err := splits(*dataPath, *valPath, *holdout)
	if err != nil {
		return err
	}
	if *limit > 0 && *limit < train.Len() {
		idx := make([]int, *limit)
		for i := range idx {
			idx[i] = i * train.Len() / *limit
		}
		train = &data.Subset{Base: train, Indices: idx}
	}
	if train.Len() == 0 || val.Len() == 0 {
		how := "lower --holdout, or give --val"
		if val.Len() == 0 {
			how = "give --val, or --holdout images per class to evaluate on"
		}
		return fmt.Errorf("%d training and %d evaluation images: need at least one of each (%s)", train.Len(), val.Len(), how)
	}
	if *mode != "knn" && train.Len() < *batch {
		return fmt.Errorf("%d training images make no batch of %d for the linear probe: lower --batch (or --holdout)", train.Len(), *batch)
	}
	// A random backbone's image size is the data's own for small images,
	// as in pretrain: judged by the first training image.
	var sample data.Image
	if *arch != "" && *img == 0 {
		_, first, err := cli.FirstReadable(train, *skipBad)
		if err != nil {
			return err
		}
		sample = first.Image
	}
	if cfg, err = withFlags(cfg, *pretrained, *arch, *img, *patch, *dim, *depth, *heads, sample); err != nil {
		return err
	}
	e, release, err := device.Engine(*dev, *precision)
	if err != nil {
		return err
	}
	defer release()
	vit, err := nn.NewViT(e, cfg, nn.NewRNG(*seed))
	if err != nil {
		return err
	}
	if *pretrained != "random" {
		if err := moco.LoadBackbone(*pretrained, vit); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "Backbone: %s (ViT %d px, patch %d, dim %d, depth %d, heads %d); %d training and %d evaluation images, %d classes; on %s, %s.\n",
		*pretrained, cfg.ImageSize, cfg.PatchSize, cfg.Dim, cfg.Depth, cfg.Heads, train.Len(), val.Len(), len(train.Classes()), e.Backend().Name(), arithmetic(e))
	// On a GPU, the kernels compile before the first batch, several at
	// once, with a word on stdout when that is slow (a machine's first run).
	device.WarmKernels(e, stdout)
	if *mode != "linear" {
		top1, top5, err := moco.KNNAccuracy(e, vit, train, val, *knnK, 0.1, moco.Reading{Batch: *batch, Workers: *workers, SkipErrors: *skipBad, Skipped: &substituted})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "kNN (k=%d, t=0.1): top-1 %.2f%%  top-5 %.2f%%\n", *knnK, 100*top1, 100*top5)
	}
	if *mode != "knn" {
		res, err := moco.LinearProbe(e, vit, train, val, probe, func(epoch int, loss float64) {
			fmt.Fprintf(stderr, "\rlinear probe: epoch %d/%d, loss %.4f", epoch+1, *epochs, loss)
		})
		fmt.Fprintln(stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Linear probe (%d epochs): top-1 %.2f%%  top-5 %.2f%%\n", *epochs, 100*res.Top1, 100*res.Top5)
	}
	if n := substituted.Load(); n > 0 {
		fmt.Fprintf(stdout, "--skip-bad: %d times an image could not be read and another of its set was used in its place.\n", n)
	}
	return nil
}

// backboneConfig reads the ViT shape from the file: a training
// checkpoint's recorded config, or the shapes of the backbone's tensors
// (our backbone.safetensors, an official MoCo v3 .pth.tar, a timm/DeiT
// state dict), with the heads from the metadata or --heads; flags
// override it (withFlags). The zero Config for "random".
func backboneConfig(path string, heads int) (nn.Config, error) {
	var cfg nn.Config
	if path != "random" {
		f, err := moco.ReadWeights(path)
		if err != nil {
			return cfg, err
		}
		if _, ok := f.Metadata["mocogo"]; ok {
			_, st, err := moco.ReadRunState(path)
			if err != nil {
				return cfg, err
			}
			cfg = st.Model.ViT
		} else {
			sub, _, err := moco.BackboneTensors(f)
			if err != nil {
				return cfg, fmt.Errorf("%s: %w", path, err)
			}
			h := heads
			if h == 0 {
				h, _ = strconv.Atoi(f.Metadata["num_heads"])
			}
			if cfg, err = moco.InferViT(sub, h); err != nil {
				return cfg, fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	return cfg, nil
}

// withFlags applies --arch and the shape flags to the file's config: a
// random backbone takes its shape from --arch, with the image and patch
// size pretrain would pick for images like sample.
func withFlags(cfg nn.Config, path, arch string, img, patch, dim, depth, heads int, sample data.Image) (nn.Config, error) {
	if arch != "" {
		size, step := cli.ImageDefaults(img, patch, sample)
		p, err := nn.Preset(arch, size, step)
		if err != nil {
			return cfg, fmt.Errorf("--arch: %w", err)
		}
		if cfg.Dim == 0 {
			cfg = p
		} else if p.Dim != cfg.Dim || p.Depth != cfg.Depth {
			return cfg, fmt.Errorf("--arch %s is a ViT of width %d and depth %d, and %s holds one of width %d and depth %d: leave --arch out (the file gives the shape)",
				arch, p.Dim, p.Depth, path, cfg.Dim, cfg.Depth)
		}
	}
	for _, o := range []struct {
		v   int
		dst *int
	}{{img, &cfg.ImageSize}, {patch, &cfg.PatchSize}, {dim, &cfg.Dim}, {depth, &cfg.Depth}, {heads, &cfg.Heads}} {
		if o.v > 0 {
			*o.dst = o.v
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("backbone shape unknown or invalid (%w): give --arch/--img/--patch or a file written by pretrain", err)
	}
	return cfg, nil
}

// splits opens the training and evaluation sets: the set at valPath when
// given (its test split, for a format that has one), else the data's own
// test split when it has one, else a held-out part of the training split.
func splits(path, valPath string, holdout int) (train, val data.Dataset, err error) {
	open := func(split string) (data.Dataset, error) {
		if path == "" {
			return data.OpenFashionMNIST(split)
		}
		return data.Open(path, split)
	}
	full, err := open("train")
	if err != nil {
		return nil, nil, err
	}
	if len(full.Classes()) == 0 {
		return nil, nil, fmt.Errorf("%s holds unlabelled images: the linear probe and kNN learn from labels", path)
	}
	if valPath != "" {
		val, err := data.OpenEval(valPath)
		if err != nil {
			return nil, nil, fmt.Errorf("--val: %w", err)
		}
		if err := data.SameClasses(full.Classes(), val.Classes()); err != nil {
			return nil, nil, fmt.Errorf("--val %s: %w", valPath, err)
		}
		return full, val, nil
	}
	switch test, err := open("test"); {
	case err == nil:
		return full, test, nil
	case !errors.Is(err, data.ErrNoTestSplit):
		return nil, nil, err
	}
	tr, held, err := data.SplitHoldout(full, holdout)
	if err != nil {
		return nil, nil, err
	}
	return tr, held, nil
}

// arithmetic names the engine's arithmetic for the log: float32, or the
// autocast type.
func arithmetic(e *engine.Engine) string {
	if dt := e.Autocast(); dt != engine.F32 {
		return dt.String() + " autocast"
	}
	return "float32"
}
