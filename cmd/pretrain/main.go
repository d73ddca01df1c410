// Command pretrain trains a ViT with MoCo v3 on a folder of images.
//
//	pretrain                          a short demonstration on Fashion-MNIST
//	pretrain --data DIR|FILE [flags]  your images (ImageFolder folder, tar
//	                                  archive, CIFAR batches, MNIST IDX files)
//
// It prints a progress bar, writes a metrics log (JSON lines), a training
// checkpoint at the end of every epoch (atomically) and the backbone under
// timm's key names, and measures a weighted kNN classifier on a held-out
// part of the data each epoch. --resume continues a run exactly where its
// last checkpoint stopped.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mocogo/mocogo/internal/cli"
	"github.com/mocogo/mocogo/internal/device"
	"github.com/mocogo/mocogo/kernels"
	"github.com/mocogo/mocogo/moco"
	"github.com/mocogo/mocogo/moco/data"
	"github.com/mocogo/mocogo/nn"
)

type options struct {
	data, arch, out               string
	img, patch, dim, depth, heads int
	mlpDim, outDim                int
	temperature                   float64
	epochs, batch                 int
	lr, warmup, wd, mocoM         float64
	resume, overwrite             bool
	skipBad                       bool
	seed                          uint64
	workers, threads              int
	limit, holdout, knnBank, knnK int
	val                           string
	knnEvery, saveEvery           int
	trainPatchEmbed               bool
	spikeGrad, spikeLoss          float64
	device                        string
	demo                          bool
	synthetic                     bool
	lossScale                     string
	precision                     string
	lossScaleInit                 float64
	lossScaleGrowth               int
	cpuProfile                    string
	// set names the flags given on the command line.
	set map[string]bool
}

// stopAfterEpochs, when positive, ends a run with errStopped after that
// many epochs, as an interruption would (tests of --resume).
var stopAfterEpochs int

// poisonAtStep, when positive, makes a weight NaN before that step (tests
// of the non-finite stop).
var poisonAtStep int

// poisonKNN, when set, makes a weight of the backbone infinite for the
// length of each kNN pass, restoring it after (tests of the monitor's
// warning: the features are not finite, the weights training sees are).
var poisonKNN bool

var errStopped = errors.New("stopped")

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pretrain:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("pretrain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.data, "data", "", "training images: an ImageFolder folder; tar archives (.tar, .tar.gz) in WebDataset's layout or ImageFolder's: one file, a quoted pattern ('shards/train-{000..127}.tar') or a folder of them; CIFAR binary batches or MNIST IDX files (default: a Fashion-MNIST demonstration)")
	fs.StringVar(&o.arch, "arch", "", "vit_tiny, vit_small or vit_base (default vit_small; the demonstration uses a small custom ViT)")
	fs.IntVar(&o.img, "img", 0, "image size (default 224, 32 for CIFAR, 28 for MNIST)")
	fs.IntVar(&o.patch, "patch", 0, "patch size (default 16 at 224 px, else 4)")
	fs.IntVar(&o.dim, "dim", 0, "override the ViT width")
	fs.IntVar(&o.depth, "depth", 0, "override the ViT depth")
	fs.IntVar(&o.heads, "heads", 0, "override the number of attention heads")
	fs.IntVar(&o.mlpDim, "mlp-dim", 4096, "projector/predictor hidden width")
	fs.IntVar(&o.outDim, "out-dim", 256, "projector/predictor output width")
	fs.Float64Var(&o.temperature, "temperature", 0.2, "softmax temperature of the contrastive loss")
	fs.IntVar(&o.epochs, "epochs", 100, "epochs")
	fs.IntVar(&o.batch, "batch", 256, "images per step")
	fs.Float64Var(&o.lr, "lr", 1.5e-4, "base learning rate; the rate used is lr·batch/256")
	fs.Float64Var(&o.warmup, "warmup", -1, "warmup epochs (default: 40/300 of the run, as in the paper)")
	fs.Float64Var(&o.wd, "wd", 0.1, "AdamW weight decay")
	fs.Float64Var(&o.mocoM, "moco-m", 0.99, "initial momentum of the momentum encoder (raised to 1 along a cosine)")
	fs.StringVar(&o.out, "out", "out/pretrain", "output folder: checkpoint, backbone, metrics")
	fs.BoolVar(&o.resume, "resume", false, "continue from the checkpoint in --out")
	fs.BoolVar(&o.overwrite, "overwrite", false, "start afresh even if --out holds another run's checkpoint, or an unfinished one of this run, which is then replaced")
	fs.BoolVar(&o.skipBad, "skip-bad", false, "where an image cannot be read or decoded, use another of the data in its place (chosen deterministically; the kNN monitor's passes too) instead of stopping, and report how many training used")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of the initialisation, the shuffle and the augmentation")
	fs.IntVar(&o.workers, "workers", runtime.NumCPU(), "decoding and augmentation goroutines")
	fs.IntVar(&o.threads, "threads", 0, "compute threads (default: all cores)")
	fs.IntVar(&o.limit, "limit", 0, "train on at most this many images (0: all; with --synthetic: images per epoch, default 20 batches)")
	fs.IntVar(&o.holdout, "holdout", 100, "images per class held out of training for the kNN monitor, unless --val (0: no monitor, every image trains; unlabelled images have none)")
	fs.StringVar(&o.val, "val", "", "images for the kNN monitor to classify, in any format --data takes, with --data's classes (ImageNet's val folder, say): then all of --data trains, none held out")
	fs.IntVar(&o.knnBank, "knn-bank", 10000, "at most this many training images form the kNN bank")
	fs.IntVar(&o.knnK, "knn-k", 200, "neighbours of the kNN monitor")
	fs.StringVar(&o.device, "device", "cpu", "compute device: cpu, or cuda (binaries built with -tags cuda)")
	fs.IntVar(&o.knnEvery, "knn-every", 1, "run the kNN monitor every this many epochs (0: only at the end)")
	fs.IntVar(&o.saveEvery, "save-every", 200, "also write the checkpoint every this many steps within an epoch (0: at the end of each epoch only)")
	fs.Float64Var(&o.spikeGrad, "spike-grad", 4, "flag a step whose gradient norm exceeds this many times its running mean")
	fs.Float64Var(&o.spikeLoss, "spike-loss", 0.25, "flag a step whose loss exceeds its running mean by this fraction")
	fs.BoolVar(&o.trainPatchEmbed, "train-patch-embed", false, "train the patch projection (MoCo v3 keeps it frozen at its random init: stop-grad-conv1)")
	fs.BoolVar(&o.synthetic, "synthetic", false, "train on random inputs made once (no reading, decoding or augmentation) to measure the compute alone; no kNN evaluation")
	fs.StringVar(&o.precision, "precision", "auto", "arithmetic: fp32; fp16 or bf16 (autocast: half activations and GEMM/attention operands, float32 weights, statistics and optimizer); auto is fp16 on cuda, fp32 on cpu (where halves are emulated, slowly)")
	fs.StringVar(&o.lossScale, "loss-scale", "auto", "loss scaling: off, or dynamic (PyTorch GradScaler: overflowing steps are skipped); auto is dynamic with --precision fp16, else off")
	fs.Float64Var(&o.lossScaleInit, "loss-scale-init", 65536, "initial loss scale of --loss-scale dynamic")
	fs.IntVar(&o.lossScaleGrowth, "loss-scale-growth", 2000, "with --loss-scale dynamic, double the scale after this many steps without overflow")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (data loading and augmentation, steps, kNN passes) to this file, for go tool pprof")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := cli.CheckArgs(fs, args, "data", "val"); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.set = set
	if err := resolvePrecision(o); err != nil {
		return nil, err
	}
	if err := checkCombinations(o, set); err != nil {
		return nil, err
	}
	if o.data == "" && !o.synthetic {
		// The demonstration: a small ViT for a few minutes on 2 cores.
		o.demo = true
		def := func(name string, p *int, v int) {
			if !set[name] {
				*p = v
			}
		}
		def("img", &o.img, 28)
		def("patch", &o.patch, 4)
		def("dim", &o.dim, 128)
		def("depth", &o.depth, 4)
		def("heads", &o.heads, 4)
		def("mlp-dim", &o.mlpDim, 1024)
		def("epochs", &o.epochs, 4)
		def("batch", &o.batch, 128)
		def("limit", &o.limit, 6000)
		def("knn-bank", &o.knnBank, 6000)
		if !set["lr"] {
			o.lr = 1e-3 // a short run on little data wants a larger step
		}
		if !set["warmup"] {
			o.warmup = 1
		}
		if o.arch == "" {
			o.arch = "vit_tiny"
		}
	}
	if o.arch == "" {
		o.arch = "vit_small"
	}
	if o.epochs <= 0 || o.batch < 2 {
		return nil, fmt.Errorf("--epochs must be positive and --batch at least 2 (got %d and %d)", o.epochs, o.batch)
	}
	if o.workers <= 0 {
		return nil, fmt.Errorf("--workers must be positive, got %d", o.workers)
	}
	if err := checkRanges(o, set); err != nil {
		return nil, err
	}
	if o.saveEvery < 0 {
		return nil, fmt.Errorf("--save-every must be 0 or positive, got %d", o.saveEvery)
	}
	if o.synthetic && o.limit == 0 {
		o.limit = 20 * o.batch
	}
	if o.synthetic && o.limit < o.batch {
		return nil, fmt.Errorf("--limit %d: with --synthetic it is the images per epoch, at least --batch (%d)", o.limit, o.batch)
	}
	return o, nil
}

// resolvePrecision turns --precision auto and --loss-scale auto into what
// they stand for on the chosen device.
func resolvePrecision(o *options) error {
	p, _, err := device.Precision(o.precision, o.device)
	if err != nil {
		return err
	}
	o.precision = p
	if o.lossScale == "auto" {
		o.lossScale = "off"
		if o.precision == "fp16" {
			// fp16 gradients underflow without it; bf16 has float32's range.
			o.lossScale = "dynamic"
		}
	}
	return nil
}

// checkRanges refuses numbers no run can use: a size given as 0 or less
// (0 stands for the default, so only when left out), a count below 0, a
// spike threshold that is not a positive number.
func checkRanges(o *options, set map[string]bool) error {
	if err := cli.CheckSizes(set, cli.IntFlag{Name: "img", Value: o.img}, cli.IntFlag{Name: "patch", Value: o.patch},
		cli.IntFlag{Name: "dim", Value: o.dim}, cli.IntFlag{Name: "depth", Value: o.depth}, cli.IntFlag{Name: "heads", Value: o.heads}); err != nil {
		return err
	}
	if err := cli.CheckPositive(cli.IntFlag{Name: "mlp-dim", Value: o.mlpDim}, cli.IntFlag{Name: "out-dim", Value: o.outDim},
		cli.IntFlag{Name: "knn-k", Value: o.knnK}); err != nil {
		return err
	}
	if err := cli.CheckNonNegative(cli.IntFlag{Name: "threads", Value: o.threads}, cli.IntFlag{Name: "limit", Value: o.limit},
		cli.IntFlag{Name: "holdout", Value: o.holdout}, cli.IntFlag{Name: "knn-bank", Value: o.knnBank}, cli.IntFlag{Name: "knn-every", Value: o.knnEvery}); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"spike-grad", o.spikeGrad}, {"spike-loss", o.spikeLoss}} {
		if !(f.v > 0) {
			return fmt.Errorf("--%s %g: must be a positive number (Inf flags nothing)", f.name, f.v)
		}
	}
	if o.warmup < 0 && set["warmup"] {
		return fmt.Errorf("--warmup %g: must be 0 or more epochs (leave it out for 40/300 of the run)", o.warmup)
	}
	return nil
}

// checkCombinations refuses flags that contradict each other.
func checkCombinations(o *options, set map[string]bool) error {
	if o.resume && o.overwrite {
		return errors.New("--resume continues the run in --out and --overwrite replaces it: give one")
	}
	switch o.lossScale {
	case "off":
		for _, f := range []string{"loss-scale-init", "loss-scale-growth"} {
			if set[f] {
				return fmt.Errorf("--%s tunes --loss-scale dynamic, and loss scaling is off", f)
			}
		}
	case "dynamic":
	default:
		return fmt.Errorf("--loss-scale %q: want auto, off or dynamic", o.lossScale)
	}
	if set["val"] && set["holdout"] {
		return errors.New("--holdout holds images of --data out for the kNN monitor, and --val gives it images of its own: give one")
	}
	if o.synthetic {
		if set["data"] {
			return errors.New("--synthetic trains on random inputs: it takes no --data")
		}
		// The kNN monitor needs labelled images; synthetic inputs have
		// none, and --workers feed a data pipeline there is none of.
		for _, f := range []string{"holdout", "val", "knn-bank", "knn-k", "knn-every", "workers"} {
			if set[f] {
				return fmt.Errorf("--%s has no effect with --synthetic (no images are read and kNN evaluation is skipped)", f)
			}
		}
	}
	return nil
}

// lossScaleConfig is the recipe's loss scaling from the flags.
func lossScaleConfig(o *options) moco.LossScaleConfig {
	if o.lossScale != "dynamic" {
		return moco.LossScaleConfig{}
	}
	c := moco.DynamicLossScale()
	c.Init, c.GrowthInterval = o.lossScaleInit, o.lossScaleGrowth
	return c
}

func run(args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.cpuProfile != "" {
		stop, err := cli.StartCPUProfile(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer func() {
			if serr := stop(); serr != nil && err == nil {
				err = fmt.Errorf("--cpuprofile: %w", serr)
			}
		}()
	}
	if o.threads > 0 {
		kernels.SetThreads(o.threads)
	}

	// Data: the training part, a held-out part for the kNN monitor.
	var (
		full, trainSet, held, bank data.Dataset
		// monitorOff says why there is no kNN monitor ("" when there is one).
		monitorOff string
		// heldOut says which images of the data do not train (RunState.HeldOut).
		heldOut string
		sample  = data.Image{W: 224, H: 224, C: 3}
		// sampleName names the image sample is (for errors).
		sampleName string
		dataID     string
		dataLen    int
	)
	if o.synthetic {
		dataID, dataLen, heldOut = "synthetic", o.limit, "none"
	} else {
		if o.demo {
			full, err = data.OpenFashionMNIST("train")
			fmt.Fprintf(stdout, "No --data given: a short MoCo v3 demonstration on Fashion-MNIST (%s).\n", data.FashionMNISTDir)
			dataID = data.FashionMNISTDir
		} else {
			full, err = data.Open(o.data, "train")
			dataID = o.data
		}
		if err != nil {
			return err
		}
		var train data.Dataset
		// The kNN monitor needs two classes or more; without it every image
		// trains.
		switch classes := len(full.Classes()); {
		case classes < 2 || o.holdout == 0 && o.val == "":
			switch classes {
			case 0:
				monitorOff = "the images are unlabelled"
			case 1:
				monitorOff = "one class"
			default:
				monitorOff = "--holdout 0"
			}
			if o.val != "" {
				return fmt.Errorf("--val: %s has %s, and the kNN monitor classifies --val by the training images' labels", dataID, monitorOff)
			}
			for _, f := range []string{"knn-bank", "knn-k", "knn-every"} {
				if o.set[f] {
					return fmt.Errorf("--%s has no effect: there is no kNN monitor (%s: %s)", f, dataID, monitorOff)
				}
			}
			if full.Len() < o.batch {
				return fmt.Errorf("%d training images: need at least --batch (%d)", full.Len(), o.batch)
			}
			train = full
		case o.val != "":
			// The monitor's queries come from --val, and all of --data trains.
			if held, err = data.OpenEval(o.val); err != nil {
				return fmt.Errorf("--val: %w", err)
			}
			if err := data.SameClasses(full.Classes(), held.Classes()); err != nil {
				return fmt.Errorf("--val %s: %w", o.val, err)
			}
			if full.Len() < o.batch || held.Len() == 0 {
				return fmt.Errorf("%d training images and %d in --val: need at least --batch (%d) and one", full.Len(), held.Len(), o.batch)
			}
			train = full
		default:
			kept, out, err := data.SplitHoldout(full, o.holdout)
			if err != nil {
				return err
			}
			if kept.Len() < o.batch || out.Len() == 0 {
				return fmt.Errorf("%d images with %d per class held out leave %d to train on and %d to test kNN on: need at least --batch (%d) and one; lower --holdout or --batch, or give --val",
					full.Len(), o.holdout, kept.Len(), out.Len(), o.batch)
			}
			held, train = out, kept
		}
		heldOut = "none"
		if held != nil && o.val == "" {
			heldOut = fmt.Sprintf("%d per class", o.holdout)
		}
		trainSet = train
		if o.limit > 0 && o.limit < train.Len() {
			trainSet = evenly(train, o.limit)
		}
		if held != nil {
			bank = trainSet
			if o.knnBank > 0 && o.knnBank < trainSet.Len() {
				bank = evenly(trainSet, o.knnBank)
			}
		}
		dataLen = trainSet.Len()
		if o.img == 0 {
			// The default image size is the data's own for small images.
			i, first, err := cli.FirstReadable(trainSet, o.skipBad)
			if err != nil {
				return err
			}
			sample, sampleName = first.Image, fmt.Sprintf("item %d", i)
			if n, ok := trainSet.(data.Namer); ok {
				sampleName = n.Name(i)
			}
		}
	}
	cfg, err := modelConfig(o, sample, sampleName)
	if err != nil {
		return err
	}
	if o.warmup < 0 {
		o.warmup = float64(o.epochs) * 40 / 300
	}
	tcfg := moco.TrainConfig{Epochs: o.epochs, BatchSize: o.batch, BaseLR: o.lr, WarmupEpochs: o.warmup, WeightDecay: o.wd, MomentumBase: o.mocoM,
		LossScale: lossScaleConfig(o)}
	if err := tcfg.Validate(); err != nil {
		return err
	}

	// The output folder, checked before the model takes memory: a fresh
	// run reads the checkpoint it would replace.
	ckpt := filepath.Join(o.out, "checkpoint.safetensors")
	backbone := filepath.Join(o.out, "backbone.safetensors")
	metricsPath := filepath.Join(o.out, "metrics.jsonl")
	if err := prepareOut(o.out, ckpt, backbone, metricsPath); err != nil {
		return err
	}
	if !o.resume {
		replacing, err := checkFreshRun(ckpt, o.overwrite, func(st moco.RunState) string {
			return freshRunDiff(st, o, cfg, tcfg, dataID, dataLen, heldOut)
		})
		if err != nil {
			return err
		}
		if replacing != "" {
			// The replaced run goes now, checkpoint first, so that a new
			// run stopped before its own first checkpoint leaves nothing of
			// the old one: no checkpoint to --resume that its log, backbone
			// and plots no longer match.
			for _, f := range append([]string{filepath.Base(ckpt), filepath.Base(backbone)}, plotFiles...) {
				if err := os.Remove(filepath.Join(o.out, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
			fmt.Fprintf(stdout, "Replacing %s.\n", replacing)
		}
	}

	e, release, err := device.Engine(o.device, o.precision)
	if err != nil {
		return err
	}
	defer release()
	model, err := moco.New(e, cfg, nn.NewRNG(o.seed))
	if err != nil {
		return err
	}
	itersPerEpoch := dataLen / o.batch
	if itersPerEpoch == 0 {
		return fmt.Errorf("%d training images make no batch of %d: lower --batch", dataLen, o.batch)
	}
	tr, err := moco.NewTrainer(e, model, tcfg, itersPerEpoch)
	if err != nil {
		return err
	}
	tr.Health.GradFactor, tr.Health.LossRise = o.spikeGrad, o.spikeLoss
	// A run killed while writing leaves its temporary file behind: the
	// checkpoint itself is the previous, complete one.
	if stale, _ := filepath.Glob(filepath.Join(o.out, ".*.safetensors.tmp*")); len(stale) > 0 {
		for _, p := range stale {
			os.Remove(p)
		}
	}
	start := data.Position{}
	resumeStep := -1
	if o.resume {
		f, st, err := moco.ReadRunState(ckpt)
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		if diff := runDiff(st, dataID, dataLen, heldOut, o.seed, tcfg); diff != "" {
			if onlyCount := st; onlyCount.DataLen != dataLen {
				// Is the number of images the one difference?
				onlyCount.DataLen = dataLen
				if runDiff(onlyCount, dataID, dataLen, heldOut, o.seed, tcfg) == "" {
					return fmt.Errorf("--resume: %s: its run trained on %d images of %s and %d are here: the images (or --limit) changed since it started, and a resumed run must read the same ones: restore them (an unreadable image can be replaced by a readable one, or skipped with --skip-bad), or start afresh with --overwrite", ckpt, st.DataLen, dataID, dataLen)
				}
			}
			return fmt.Errorf("--resume: %s was written by another run: %s; resume with the flags it was started with", ckpt, diff)
		}
		if err := tr.RestoreCheckpoint(f, st); err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		start = st.Position
		resumeStep = st.Step
		if start.Epoch < o.epochs {
			fmt.Fprintf(stdout, "Resuming from %s at epoch %d, batch %d (step %d).\n", ckpt, start.Epoch+1, start.Batch+1, st.Step)
		}
		if tr.Scaler != nil {
			fmt.Fprintf(stdout, "Loss scale %g, %d steps skipped so far.\n", tr.Scaler.Scale(), tr.SkippedSteps)
		}
	}
	writeBackbone := func() error {
		return moco.SaveBackbone(backbone, model, map[string]string{"format": "pt", "arch": o.arch,
			"img_size": fmt.Sprint(cfg.ViT.ImageSize), "patch_size": fmt.Sprint(cfg.ViT.PatchSize),
			"embed_dim": fmt.Sprint(cfg.ViT.Dim), "depth": fmt.Sprint(cfg.ViT.Depth), "num_heads": fmt.Sprint(cfg.ViT.Heads)})
	}
	if start.Epoch >= o.epochs {
		fmt.Fprintf(stdout, "%s has finished all %d epochs (step %d): nothing to resume.\n", ckpt, o.epochs, resumeStep)
		if _, err := os.Stat(backbone); err != nil {
			// Stopped between the last checkpoint and the backbone.
			return writeBackbone()
		}
		return nil
	}

	logMode := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if o.resume {
		// What was logged after the checkpoint is done again: drop it.
		if err := truncateLog(metricsPath, resumeStep); err != nil {
			return err
		}
		logMode = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	logf, err := os.OpenFile(metricsPath, logMode, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	// logErr is the first error writing the log; the run stops on it at
	// its next step or save, so that a full disk is not found at the end.
	var logErr error
	logJSON := func(v any) {
		b, _ := json.Marshal(v)
		if _, err := logf.Write(append(b, '\n')); err != nil && logErr == nil {
			logErr = fmt.Errorf("writing %s: %w", metricsPath, err)
		}
	}
	plot := func() {
		if err := writePlots(metricsPath, o.out); err != nil {
			fmt.Fprintf(stderr, "\nwarning: plots: %v\n", err)
		}
	}
	if !tr.PatchEmbedTrains() {
		logJSON(map[string]any{"type": "note", "text": "the patch embedding is frozen (stop-grad-conv1): it has no gradient, so no grad_norm_patch_embed is logged; --train-patch-embed trains it"})
	}

	sizeFrom := ""
	if o.img == 0 && sampleName != "" && cli.AtOwnSize(sample) {
		sizeFrom = fmt.Sprintf(" (the size of the first training image, %s, %d×%d; --img sets it)", sampleName, sample.W, sample.H)
	}
	fmt.Fprintf(stdout, "Model: ViT %d px%s, patch %d, dim %d, depth %d, heads %d; heads %d→%d; %.1fM trainable parameters.\n",
		cfg.ViT.ImageSize, sizeFrom, cfg.ViT.PatchSize, cfg.ViT.Dim, cfg.ViT.Depth, cfg.ViT.Heads, cfg.MLPDim, cfg.OutDim,
		float64(nn.NumParams(nn.Trainable(model.Parameters())))/1e6)
	if o.synthetic {
		fmt.Fprintf(stdout, "Data: --synthetic: random %d px views made once and reused every step (no reading, decoding or augmentation: the compute alone), %d images per epoch; kNN evaluation skipped.\n",
			cfg.ViT.ImageSize, dataLen)
		logJSON(map[string]any{"type": "note", "text": "--synthetic: random inputs, no data pipeline; kNN evaluation skipped"})
	} else if monitorOff != "" {
		classes := fmt.Sprintf("%d classes", len(full.Classes()))
		if len(full.Classes()) == 0 {
			classes = "unlabelled"
		}
		fmt.Fprintf(stdout, "Data: %s: %d training images (%s); no kNN monitor: %s.\n", dataID, dataLen, classes, monitorOff)
		logJSON(map[string]any{"type": "note", "text": "no kNN monitor: " + monitorOff})
	} else {
		queries := fmt.Sprintf("%d held out for kNN", held.Len())
		if o.val != "" {
			queries = fmt.Sprintf("kNN on %d images of %s", held.Len(), o.val)
		}
		fmt.Fprintf(stdout, "Data: %s: %d training images (%d classes), %s, bank of %d.\n",
			dataID, dataLen, len(full.Classes()), queries, bank.Len())
	}
	// monitor: the kNN accuracy is measured (at random init, after epochs).
	monitor := !o.synthetic && held != nil
	fmt.Fprintf(stdout, "Recipe: %d epochs of %d steps, batch %d, lr %.3g (warmup %.3g epochs, cosine), wd %g, momentum %g→1, T %g.\n",
		o.epochs, itersPerEpoch, o.batch, tcfg.LR(o.warmup), o.warmup, o.wd, o.mocoM, cfg.Temperature)
	if o.precision != "fp32" {
		fmt.Fprintf(stdout, "Precision: %s autocast on %s: half activations and GEMM/attention operands, float32 weights, statistics and AdamW.\n", o.precision, e.Backend().Name())
	}
	if ls := tcfg.LossScale; ls.Enabled {
		fmt.Fprintf(stdout, "Loss scaling: dynamic, from %g, ×%g after %d steps without overflow, ×%g on an overflow (that step's update skipped), floor %g.\n",
			ls.Init, ls.GrowthFactor, ls.GrowthInterval, ls.BackoffFactor, ls.MinScale)
	}

	// On a GPU, the kernels compile before the first kNN pass or step,
	// with a word on stdout when that is slow (a machine's first run).
	device.WarmKernels(e, stdout)

	// knn measures the monitor. Features that are not finite where
	// training is (the evaluation forward pass overflowing fp16, say) give
	// no accuracy; that is said and logged, and training goes on (ok
	// false): the monitor watches the run, it does not stop it.
	knn := func(when string) (top1, top5 float64, ok bool, err error) {
		if poisonKNN {
			w := model.Base.Norm.Weight
			keep := w.Float64s()
			bad := slices.Clone(keep)
			bad[0] = math.Inf(1)
			w.SetFloat64s(bad)
			defer w.SetFloat64s(keep)
		}
		top1, top5, err = moco.KNNAccuracy(e, model.Base, bank, held, o.knnK, 0.1, moco.Reading{Batch: o.batch, Workers: o.workers, SkipErrors: o.skipBad})
		if errors.Is(err, moco.ErrNonFiniteFeatures) {
			fmt.Fprintf(stderr, "\nwarning: no kNN accuracy %s: %v\n", when, err)
			logJSON(map[string]any{"type": "note", "text": "no kNN accuracy " + when + ": " + err.Error()})
			return 0, 0, false, nil
		}
		return top1, top5, err == nil, err
	}
	var initTop1 float64 = -1
	if !o.resume && monitor {
		t0 := time.Now()
		top1, top5, ok, err := knn("at random init")
		if err != nil {
			return err
		}
		if ok {
			initTop1 = top1
			logJSON(map[string]any{"type": "knn", "epoch": 0, "top1": top1, "top5": top5, "at": "random init"})
			fmt.Fprintf(stdout, "kNN at random init: top-1 %.2f%%, top-5 %.2f%% (%.0fs)\n", 100*top1, 100*top5, time.Since(t0).Seconds())
		}
	}

	var loader batchSource
	// skipped counts the images --skip-bad replaced (0 without it).
	skipped := func() int64 { return 0 }
	var step func(ep float64) (moco.StepStats, error)
	if o.synthetic {
		// The views uploaded once and kept: the compute alone.
		syn := newSynthetic(o.batch, cfg.ViT.ImageSize, itersPerEpoch, o.seed, start)
		loader = syn
		n, size := syn.b.N, syn.b.Size
		x1 := e.FromFloat32(syn.b.Views[0], n, 3, size, size).Keep()
		x2 := e.FromFloat32(syn.b.Views[1], n, 3, size, size).Keep()
		defer x1.Free()
		defer x2.Free()
		step = func(ep float64) (moco.StepStats, error) { return tr.TrainStepOn(x1, x2, ep) }
	} else {
		l, err := data.NewLoader(trainSet, data.NewMoCoV3(cfg.ViT.ImageSize), data.LoaderConfig{
			BatchSize: o.batch, Workers: o.workers, Seed: o.seed, Shuffle: true, DropLast: true, Start: start, SkipErrors: o.skipBad,
		})
		if err != nil {
			return err
		}
		skipped = l.Skipped
		// The next batch is read and uploaded while a step trains.
		ahead := newUploadAhead(e, l, o.batch, cfg.ViT.ImageSize)
		loader = ahead
		step = func(ep float64) (moco.StepStats, error) {
			x1, x2 := ahead.Views()
			return tr.TrainStepOn(x1, x2, ep)
		}
	}
	defer loader.Close()

	bar := newProgress(stderr, itersPerEpoch)
	defer func() {
		if err != nil {
			bar.breakLine()
		}
	}()
	var lastTop1 float64
	save := func() error {
		return tr.SaveCheckpoint(ckpt, moco.RunState{Seed: o.seed, Position: loader.Position(), Data: dataID, DataLen: dataLen, HeldOut: heldOut,
			Device: o.device, Precision: o.precision, Substitutes: o.skipBad})
	}
	savedStep := resumeStep
	for epoch := start.Epoch; epoch < o.epochs; epoch++ {
		bar.startEpoch(epoch, o.epochs)
		for {
			pos := loader.Position()
			if pos.Epoch != epoch {
				break
			}
			asked := time.Now()
			b, err := loader.Next()
			wait := time.Since(asked)
			if err != nil {
				hint := ""
				if be := (*data.BatchError)(nil); errors.As(err, &be) && !o.skipBad {
					again := "--resume"
					if savedStep < 0 {
						again = "run again"
					}
					hint = fmt.Sprintf("; replace or repair that file and %s (deleting it changes the data, which --resume refuses), or add --skip-bad to train on a substitute where an image cannot be read", again)
				}
				return fmt.Errorf("%w; %s%s", err, keptNote(savedStep, ckpt), hint)
			}
			ep := tr.EpochAt(epoch, b.Pos.Batch)
			if poisonAtStep > 0 && tr.Step+1 == poisonAtStep {
				w := model.Base.Blocks[0].MLP.FC1.Weight
				vals := w.Float64s()
				vals[0] = math.NaN()
				w.SetFloat64s(vals)
			}
			st, err := step(ep)
			if err != nil {
				// JSON has no NaN: the stop is logged as text.
				logJSON(map[string]any{"type": "stop", "step": st.Step, "error": err.Error()})
				plot()
				return fmt.Errorf("training stopped at step %d: %w; %s", st.Step, err, keptNote(savedStep, ckpt))
			}
			logJSON(newStepLine(st, wait))
			if logErr != nil {
				return logErr
			}
			for _, s := range st.Spikes {
				fmt.Fprintf(stderr, "\nstep %d: %s\n", st.Step, s)
				logJSON(map[string]any{"type": "spike", "step": st.Step, "text": s})
			}
			bar.step(b.Pos.Batch+1, st, wait)
			if o.saveEvery > 0 && tr.Step%o.saveEvery == 0 && loader.Position().Epoch == epoch {
				if err := save(); err != nil {
					return err
				}
				savedStep = tr.Step
			}
		}
		bar.endEpoch()
		if err := save(); err != nil {
			return err
		}
		if logErr != nil {
			return logErr
		}
		savedStep = tr.Step
		plot()
		if stopAfterEpochs > 0 && epoch+1-start.Epoch >= stopAfterEpochs {
			return errStopped
		}
		if monitor && (o.knnEvery > 0 && (epoch+1)%o.knnEvery == 0 || epoch == o.epochs-1) {
			t0 := time.Now()
			top1, top5, ok, err := knn(fmt.Sprintf("after epoch %d", epoch+1))
			if err != nil {
				return err
			}
			lastTop1 = -1
			if ok {
				lastTop1 = top1
				logJSON(map[string]any{"type": "knn", "epoch": epoch + 1, "top1": top1, "top5": top5})
				plot()
				fmt.Fprintf(stdout, "epoch %d: kNN top-1 %.2f%%, top-5 %.2f%% (%.0fs)\n", epoch+1, 100*top1, 100*top5, time.Since(t0).Seconds())
			}
		}
	}
	if err := writeBackbone(); err != nil {
		return err
	}
	if logErr != nil {
		return logErr
	}
	if err := logf.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", metricsPath, err)
	}
	fmt.Fprintf(stdout, "Wrote %s (training state), %s (backbone, timm key names), %s and the plots beside it.\n", ckpt, backbone, filepath.Base(metricsPath))
	if n := skipped(); n > 0 {
		fmt.Fprintf(stdout, "--skip-bad: %d times an image could not be read in training and another trained in its place.\n", n)
	}
	if tr.Scaler != nil {
		fmt.Fprintf(stdout, "Loss scaling: %d of %d steps skipped for overflowing gradients; final scale %g.\n", tr.SkippedSteps, tr.Step, tr.Scaler.Scale())
	}
	if initTop1 >= 0 && lastTop1 >= 0 {
		fmt.Fprintf(stdout, "kNN top-1: %.2f%% after training, %.2f%% at random init (%+.2f points).\n", 100*lastTop1, 100*initTop1, 100*(lastTop1-initTop1))
	}
	return nil
}

// modelConfig picks the ViT from --arch and the overrides; the image size
// defaults to the data's own for small images (cli.ImageDefaults), judged
// by the first training image, which from names in errors.
func modelConfig(o *options, sample data.Image, from string) (moco.Config, error) {
	img, patch := cli.ImageDefaults(o.img, o.patch, sample)
	vit, err := nn.Preset(o.arch, img, patch)
	if err != nil {
		return moco.Config{}, fmt.Errorf("--arch: %w", err)
	}
	if o.dim > 0 {
		vit.Dim = o.dim
	}
	if o.depth > 0 {
		vit.Depth = o.depth
	}
	if o.heads > 0 {
		vit.Heads = o.heads
	}
	vit.TrainPatchEmbed = o.trainPatchEmbed
	cfg := moco.Config{ViT: vit, MLPDim: o.mlpDim, OutDim: o.outDim, Temperature: o.temperature}
	if err := cfg.Validate(); err != nil {
		if o.img == 0 && from != "" && cli.AtOwnSize(sample) && (img%vit.PatchSize != 0 || img < vit.PatchSize) {
			return moco.Config{}, fmt.Errorf("%w (the image size %d px is that of the first training image, %s, %d×%d: give --img)", err, img, from, sample.W, sample.H)
		}
		return moco.Config{}, err
	}
	return cfg, nil
}

// freshRunDiff is what checkFreshRun compares: runDiff's recipe and data,
// and the model, device, arithmetic and --skip-bad, which a run of the
// same recipe could still differ in. A checkpoint from before the last
// three were recorded (they are written together) differs, so it is not
// replaced without --overwrite.
func freshRunDiff(st moco.RunState, o *options, cfg moco.Config, tcfg moco.TrainConfig, dataID string, dataLen int, heldOut string) string {
	var d []string
	if diff := runDiff(st, dataID, dataLen, heldOut, o.seed, tcfg); diff != "" {
		d = append(d, diff)
	}
	if st.Model != cfg {
		d = append(d, fmt.Sprintf("model %s there, %s here", describeModel(st.Model), describeModel(cfg)))
	}
	if st.Device == "" && st.Precision == "" {
		return strings.Join(append(d, "written by an earlier build, which did not record its device, precision and --skip-bad"), "; ")
	}
	if st.Device != o.device {
		d = append(d, fmt.Sprintf("--device %s there, %s here", st.Device, o.device))
	}
	if st.Precision != o.precision {
		d = append(d, fmt.Sprintf("--precision %s there, %s here", st.Precision, o.precision))
	}
	if st.Substitutes != o.skipBad {
		d = append(d, fmt.Sprintf("--skip-bad %v there, %v here", st.Substitutes, o.skipBad))
	}
	return strings.Join(d, "; ")
}

// describeModel names a model by the flags that set it: "ViT 28 px,
// patch 4, dim 128, depth 4, 4 heads, projector and predictor 1024→256,
// T 0.2", with the rarer settings only where they are not the defaults.
func describeModel(c moco.Config) string {
	v := c.ViT
	s := fmt.Sprintf("ViT %d px, patch %d, dim %d, depth %d, %d heads, projector and predictor %d→%d, T %g",
		v.ImageSize, v.PatchSize, v.Dim, v.Depth, v.Heads, c.MLPDim, c.OutDim, c.Temperature)
	if v.Channels != 0 && v.Channels != 3 {
		s += fmt.Sprintf(", %d channels", v.Channels)
	}
	if v.MLPRatio != 0 && v.MLPRatio != 4 {
		s += fmt.Sprintf(", MLP ratio %g", v.MLPRatio)
	}
	if v.Eps != 0 {
		s += fmt.Sprintf(", LayerNorm eps %g", v.Eps)
	}
	if v.TrainPatchEmbed {
		s += ", --train-patch-embed"
	}
	return s
}

// keptNote says what a stopped run leaves to --resume from.
func keptNote(savedStep int, ckpt string) string {
	if savedStep < 0 {
		return "no checkpoint was written before it"
	}
	return fmt.Sprintf("the last good checkpoint (step %d) is kept in %s", savedStep, ckpt)
}

// prepareOut makes the output folder and checks, before any work, that
// files can be written there and that the paths the run writes are not
// folders (which would fail only when the first checkpoint is saved).
func prepareOut(out string, files ...string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	probe, err := os.CreateTemp(out, ".write-check-*")
	if err != nil {
		return fmt.Errorf("--out %s: cannot write there: %w", out, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && !st.Mode().IsRegular() {
			return fmt.Errorf("--out: %s is in the way: the run writes a file there, and it is a %s", f, describeMode(st.Mode()))
		}
	}
	return nil
}

func describeMode(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "folder"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// checkFreshRun decides whether a run started without --resume may write
// its checkpoint over the one at ckpt. It may when there is none, with
// --overwrite, and when that checkpoint is a finished run of the same
// flags (diff returns "" for it): running them again makes the same run,
// so nothing is lost, and the demonstration can be run twice. It refuses
// another run's checkpoint, an unfinished one of the same run (--resume
// continues that) and a file it cannot read as a checkpoint, saying how
// to go on. replacing describes what is replaced ("" when nothing is).
func checkFreshRun(ckpt string, overwrite bool, diff func(moco.RunState) string) (replacing string, err error) {
	if _, err := os.Stat(ckpt); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if overwrite {
		return "the run in " + filepath.Dir(ckpt) + " (--overwrite)", nil
	}
	const ways = "--resume continues it, --overwrite replaces it, or --out names another folder"
	_, st, err := moco.ReadRunState(ckpt)
	if err != nil {
		return "", fmt.Errorf("--out: %s holds a checkpoint this run would replace and cannot read (%v): --overwrite replaces it, or --out names another folder", ckpt, err)
	}
	where := fmt.Sprintf("%d of %d epochs done, step %d", st.Position.Epoch, st.Train.Epochs, st.Step)
	if d := diff(st); d != "" {
		return "", fmt.Errorf("--out: %s holds another run's checkpoint (%s; %s), which this run would replace: %s", ckpt, where, d, ways)
	}
	if st.Position.Epoch < st.Train.Epochs {
		return "", fmt.Errorf("--out: %s holds this run unfinished (%s), which starting afresh would replace: %s", ckpt, where, ways)
	}
	return fmt.Sprintf("the finished run of these flags in %s", filepath.Dir(ckpt)), nil
}

// evenly picks n items spread over ds (every len/n-th), keeping classes
// balanced when ds is ordered by class.
func evenly(ds data.Dataset, n int) data.Dataset {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i * ds.Len() / n
	}
	if s, ok := ds.(*data.Subset); ok {
		for i := range idx {
			idx[i] = s.Indices[idx[i]]
		}
		return &data.Subset{Base: s.Base, Indices: idx}
	}
	return &data.Subset{Base: ds, Indices: idx}
}

// progress draws a one-line progress bar with images/s, loss, gradient
// norm, lr, momentum, the loss scale and skipped steps when scaling, and
// the time left in the epoch.
type progress struct {
	w            io.Writer
	iters        int
	epoch, total int
	started      time.Time
	images       int
	waited       time.Duration // for batches, this epoch
	line         string
	open         bool // a line is drawn and not ended
}

func newProgress(w io.Writer, iters int) *progress { return &progress{w: w, iters: iters} }

func (p *progress) startEpoch(epoch, total int) {
	p.epoch, p.total, p.started, p.images, p.waited = epoch, total, time.Now(), 0, 0
}

// step draws the line after batch done of the epoch; wait is how long
// the step waited for its batch.
func (p *progress) step(done int, st moco.StepStats, wait time.Duration) {
	p.images += st.Images
	p.waited += wait
	el := time.Since(p.started).Seconds()
	rate := float64(p.images) / el
	eta := time.Duration(float64(p.iters-done) * el / float64(done) * float64(time.Second)).Round(time.Second)
	const width = 24
	fill := width * done / p.iters
	p.line = fmt.Sprintf("epoch %d/%d [%s%s] %d/%d  %.0f img/s  loss %.4f  |g| %.3g  lr %.2e  m %.4f",
		p.epoch+1, p.total, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, p.iters, rate, st.Loss, st.GradNorm, st.LR, st.Momentum)
	if st.LossScale != 1 || st.SkippedSteps > 0 {
		p.line += fmt.Sprintf("  scale 2^%.0f  skipped %d", math.Log2(st.LossScale), st.SkippedSteps)
	}
	// The share of the epoch spent waiting for batches: above a few
	// percent, the input pipeline (not the model) sets the pace.
	p.line += fmt.Sprintf("  data %.0f%%  ETA %v", 100*p.waited.Seconds()/el, eta)
	fmt.Fprintf(p.w, "\r%s", p.line)
	p.open = true
}

func (p *progress) endEpoch() {
	fmt.Fprintln(p.w)
	p.open = false
}

// breakLine ends a drawn line, so that what is printed next (an error)
// starts on a line of its own.
func (p *progress) breakLine() {
	if p.open {
		p.endEpoch()
	}
}

// batchSource is where the training loop takes its batches from: the data
// loader, or the synthetic inputs of --synthetic.
type batchSource interface {
	Next() (*data.Batch, error)
	Position() data.Position
	Close() error
}

// synthetic serves the same two random views (moco.SyntheticViews, made
// once from the seed) as every batch, at loader-like positions.
type synthetic struct {
	b     data.Batch
	iters int
	pos   data.Position
}

func newSynthetic(batch, size, iters int, seed uint64, start data.Position) *synthetic {
	v1, v2 := moco.SyntheticViews(batch, size, seed)
	return &synthetic{b: data.Batch{N: batch, Size: size, Views: [][]float32{v1, v2}}, iters: iters, pos: start}
}

func (s *synthetic) Next() (*data.Batch, error) {
	s.b.Pos = s.pos
	s.pos.Batch++
	if s.pos.Batch == s.iters {
		s.pos = data.Position{Epoch: s.pos.Epoch + 1}
	}
	return &s.b, nil
}

func (s *synthetic) Position() data.Position { return s.pos }
func (s *synthetic) Close() error            { return nil }

// runDiff names what differs between a checkpoint's run and this one
// (checkpoint's value first), or returns "" when they are the same run.
func runDiff(st moco.RunState, dataID string, dataLen int, heldOut string, seed uint64, tc moco.TrainConfig) string {
	var d []string
	add := func(what string, was, now any) {
		if was != now {
			d = append(d, fmt.Sprintf("%s %v there, %v here", what, was, now))
		}
	}
	add("data", st.Data, dataID)
	add("images", st.DataLen, dataLen)
	if st.HeldOut != "" {
		add("held out of training (--holdout, --val)", st.HeldOut, heldOut)
	}
	add("--seed", st.Seed, seed)
	was := st.Train
	add("--epochs", was.Epochs, tc.Epochs)
	add("--batch", was.BatchSize, tc.BatchSize)
	add("--lr", was.BaseLR, tc.BaseLR)
	add("--warmup", was.WarmupEpochs, tc.WarmupEpochs)
	add("--wd", was.WeightDecay, tc.WeightDecay)
	add("--moco-m", was.MomentumBase, tc.MomentumBase)
	if was.LossScale != tc.LossScale {
		scaling := func(c moco.LossScaleConfig) string {
			if !c.Enabled {
				return "off"
			}
			return fmt.Sprintf("dynamic from %g, growth every %d steps", c.Init, c.GrowthInterval)
		}
		d = append(d, fmt.Sprintf("loss scaling %s there, %s here (--loss-scale, or --precision: fp16 scales by default)", scaling(was.LossScale), scaling(tc.LossScale)))
	}
	if len(d) == 0 && was != tc {
		d = append(d, fmt.Sprintf("recipe %+v there, %+v here", was, tc))
	}
	return strings.Join(d, "; ")
}
