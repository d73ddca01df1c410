package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/nn"
)

// writeFolder makes an ImageFolder of small PNGs: classes differ in hue.
func writeFolder(t *testing.T, classes, per, size int) string {
	root := t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	for c := 0; c < classes; c++ {
		dir := filepath.Join(root, fmt.Sprintf("class%d", c))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for i := 0; i < per; i++ {
			img := image.NewRGBA(image.Rect(0, 0, size, size))
			for y := 0; y < size; y++ {
				for x := 0; x < size; x++ {
					v := uint8(r.IntN(64))
					img.Set(x, y, color.RGBA{uint8(60*c) + v, v, 255 - uint8(60*c) - v, 255})
				}
			}
			var buf bytes.Buffer
			require.NoError(t, png.Encode(&buf, img))
			require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.png", i)), buf.Bytes(), 0o644))
		}
	}
	return root
}

// syntheticArgs is tinyArgs on --synthetic inputs (4 batches an epoch).
func syntheticArgs(out string, epochs int) []string {
	return []string{"--synthetic", "--out", out, "--arch", "vit_tiny", "--img", "16", "--patch", "4",
		"--dim", "16", "--depth", "1", "--heads", "2", "--mlp-dim", "32", "--out-dim", "16",
		"--batch", "8", "--limit", "32", "--epochs", fmt.Sprint(epochs), "--warmup", "1", "--seed", "3"}
}

func tinyArgs(data, out string, epochs int) []string {
	return []string{"--data", data, "--out", out, "--arch", "vit_tiny", "--img", "16", "--patch", "4",
		"--dim", "16", "--depth", "1", "--heads", "2", "--mlp-dim", "32", "--out-dim", "16",
		"--batch", "8", "--epochs", fmt.Sprint(epochs), "--warmup", "1", "--holdout", "2",
		"--knn-k", "5", "--workers", "2", "--seed", "3"}
}

// TestResumeIsExact trains 3 epochs in one go and, separately, 1 epoch
// then --resume for the rest: the checkpoints must be identical bit for
// bit (same weights, optimizer moments, BN statistics, position, loss
// scale). Variants: float32; dynamic loss scaling started so high that
// steps overflow and are skipped, growing every 3 good steps (the scale,
// its growth count and the skipped steps must carry over); synthetic
// inputs.
func TestResumeIsExact(t *testing.T) {
	data := writeFolder(t, 3, 12, 16)
	for _, tc := range []struct {
		name string
		args func(out string) []string
	}{
		{"fp32", func(out string) []string { return tinyArgs(data, out, 3) }},
		{"loss scale", func(out string) []string {
			return append(tinyArgs(data, out, 3), "--loss-scale", "dynamic", "--loss-scale-init", "0x1p122", "--loss-scale-growth", "3")
		}},
		{"synthetic", func(out string) []string { return syntheticArgs(out, 3) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sink bytes.Buffer
			straight := t.TempDir()
			require.NoError(t, run(tc.args(straight), &sink, &sink))

			// Interrupt the same run after its first epoch (the schedule
			// depends on --epochs, so a shorter run would not do).
			resumed := t.TempDir()
			stopAfterEpochs = 1
			err := run(tc.args(resumed), &sink, &sink)
			stopAfterEpochs = 0
			require.ErrorIs(t, err, errStopped)
			require.NoError(t, run(append(tc.args(resumed), "--resume"), &sink, &sink))

			a, err := os.ReadFile(filepath.Join(straight, "checkpoint.safetensors"))
			require.NoError(t, err)
			b, err := os.ReadFile(filepath.Join(resumed, "checkpoint.safetensors"))
			require.NoError(t, err)
			fa, err := nn.ParseSafetensors(a)
			require.NoError(t, err)
			fb, err := nn.ParseSafetensors(b)
			require.NoError(t, err)
			require.Equal(t, len(fa.Tensors), len(fb.Tensors))
			for _, ta := range fa.Tensors {
				tb, ok := fb.Get(ta.Name)
				require.True(t, ok, ta.Name)
				require.True(t, bytes.Equal(ta.Data, tb.Data), "tensor %s differs after resume", ta.Name)
			}
			assert.Equal(t, fa.Metadata["mocogo"], fb.Metadata["mocogo"])
			assert.FileExists(t, filepath.Join(resumed, "backbone.safetensors"))
			// Every step is logged once, as one JSON object per line.
			want := logSteps(t, filepath.Join(straight, "metrics.jsonl"))
			require.Equal(t, want, logSteps(t, filepath.Join(resumed, "metrics.jsonl")))
			for i, s := range want {
				require.Equal(t, i+1, s)
			}
			log, err := os.ReadFile(filepath.Join(resumed, "metrics.jsonl"))
			require.NoError(t, err)
			if tc.name == "loss scale" {
				// Step 3 overflows, before the interruption, so that the
				// scale differs from its start when the run resumes, and
				// step 5 after it.
				assert.Contains(t, fa.Metadata["mocogo"], `"loss_scale":{"scale":`)
				assert.Contains(t, fa.Metadata["mocogo"], `"skipped_steps":2}`)
				assert.Regexp(t, `"step":3,[^\n]*"skipped":true,"skipped_steps":1,`, string(log))
				assert.Regexp(t, `"step":5,[^\n]*"skipped":true,"skipped_steps":2,`, string(log))
				assert.Contains(t, string(log), `"grad_norm":null`)
			} else {
				assert.NotContains(t, string(log), `"skipped`)
				assert.NotContains(t, fa.Metadata["mocogo"], `loss_scale`)
			}
		})
	}
}

func TestBadInputIsReported(t *testing.T) {
	var sink bytes.Buffer
	err := run([]string{"--data", filepath.Join(t.TempDir(), "missing")}, &sink, &sink)
	assert.ErrorContains(t, err, "no such file")
	err = run([]string{"--data", t.TempDir(), "--epochs", "0"}, &sink, &sink)
	assert.ErrorContains(t, err, "--epochs")
	err = run([]string{"--data", t.TempDir(), "--device", "tpu"}, &sink, &sink)
	assert.Error(t, err)
	small := writeFolder(t, 2, 4, 8)
	err = run([]string{"--data", small}, &sink, &sink)
	assert.ErrorContains(t, err, "lower --holdout")
	err = run([]string{"--arch", "vit_huge", "--data", small, "--holdout", "1", "--batch", "4"}, &sink, &sink)
	assert.ErrorContains(t, err, "--arch")

	// A checkpoint of another model is refused with both configs named.
	data := writeFolder(t, 3, 12, 16)
	out := t.TempDir()
	require.NoError(t, run(tinyArgs(data, out, 1), &sink, &sink))
	other := append(tinyArgs(data, out, 1), "--dim", "32", "--resume")
	err = run(other, &sink, &sink)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "model"), err.Error())
}

// TestNonFiniteStopsTheRun: a NaN weight before step 6 stops the run with
// a message naming the step, and the checkpoint of step 4 (saved every 2
// steps) is kept untouched; the log has the health fields and plots are
// written.
func TestNonFiniteStopsTheRun(t *testing.T) {
	data := writeFolder(t, 3, 12, 16)
	out := t.TempDir()
	var sink bytes.Buffer
	poisonAtStep = 6
	err := run(append(tinyArgs(data, out, 3), "--save-every", "2"), &sink, &sink)
	poisonAtStep = 0
	require.Error(t, err)
	assert.Contains(t, err.Error(), "training stopped at step 6")
	assert.Contains(t, err.Error(), "non-finite value")
	assert.Contains(t, err.Error(), "the last good checkpoint (step 4) is kept in")
	f, err := nn.ReadSafetensors(filepath.Join(out, "checkpoint.safetensors"))
	require.NoError(t, err)
	require.NoError(t, f.VerifyChecksum(true))
	assert.Contains(t, f.Metadata["mocogo"], `"step":4,`)
	for _, tn := range f.Tensors {
		vals, err := tn.Float64s()
		require.NoError(t, err)
		for _, v := range vals {
			require.False(t, math.IsNaN(v), tn.Name)
		}
	}
	log, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(log), `{"error":"moco: step 6`)
	assert.NotContains(t, string(log), "\n\n")
	for _, field := range []string{`"grad_norm":`, `"grad_norm_block0":`, `"loss_scale":1`, `"lr":`, `"momentum":`, `the patch embedding is frozen`} {
		assert.Contains(t, string(log), field)
	}
	assert.NotContains(t, string(log), `"grad_norm_patch_embed"`)
	svg, err := os.ReadFile(filepath.Join(out, "loss.svg"))
	require.NoError(t, err)
	assert.Contains(t, string(svg), "<polyline")

	// With --train-patch-embed its gradient norm is logged.
	out2 := t.TempDir()
	require.NoError(t, run(append(tinyArgs(data, out2, 1), "--train-patch-embed"), &sink, &sink))
	log, err = os.ReadFile(filepath.Join(out2, "metrics.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(log), `"grad_norm_patch_embed":`)
	assert.NotContains(t, string(log), `the patch embedding is frozen`)
}

// TestFlagCombinations: flags that contradict each other are refused
// with the flags named.
func TestFlagCombinations(t *testing.T) {
	var sink bytes.Buffer
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--synthetic", "--data", dir}, "--synthetic trains on random inputs: it takes no --data"},
		{[]string{"--synthetic", "--holdout", "3"}, "--holdout has no effect with --synthetic"},
		{[]string{"--synthetic", "--knn-every", "2"}, "--knn-every has no effect with --synthetic"},
		{[]string{"--synthetic", "--workers", "2"}, "--workers has no effect with --synthetic"},
		{[]string{"--synthetic", "--val", dir}, "--val has no effect with --synthetic"},
		{[]string{"--data", dir, "--val", dir, "--holdout", "3"}, "--val gives it images of its own: give one"},
		{[]string{"--data", dir, "--val", "a-{0..1}.tar", "b.tar"}, "quote it"},
		{[]string{"--synthetic", "--batch", "8", "--limit", "4"}, "--limit 4: with --synthetic it is the images per epoch, at least --batch (8)"},
		{[]string{"--loss-scale", "static"}, `--loss-scale "static": want auto, off or dynamic`},
		{[]string{"--precision", "fp8"}, `--precision "fp8": want auto, fp32, fp16 or bf16`},
		{[]string{"--precision", "bf16", "--loss-scale-init", "1024"}, "--loss-scale-init tunes --loss-scale dynamic, and loss scaling is off"},
		{[]string{"--loss-scale-init", "1024"}, "--loss-scale-init tunes --loss-scale dynamic, and loss scaling is off"},
		{[]string{"--loss-scale", "off", "--loss-scale-growth", "10"}, "--loss-scale-growth tunes --loss-scale dynamic"},
		{append(syntheticArgs(dir, 1), "--loss-scale", "dynamic", "--loss-scale-init", "0"), "initial loss scale 0"},
		{append(syntheticArgs(dir, 1), "--loss-scale", "dynamic", "--loss-scale-growth", "0"), "growth interval 0"},
	} {
		err := run(tc.args, &sink, &sink)
		require.Error(t, err, "%v", tc.args)
		assert.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
}

// TestSynthetic: --synthetic trains without data, says that kNN is
// skipped and logs no kNN line; with loss scaling it reports the scale.
func TestSynthetic(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(append(syntheticArgs(out, 2), "--loss-scale", "dynamic"), &stdout, &stderr))
	assert.Contains(t, stdout.String(), "--synthetic: random 16 px views made once and reused every step")
	assert.Contains(t, stdout.String(), "kNN evaluation skipped")
	assert.Contains(t, stdout.String(), "Loss scaling: 0 of 8 steps skipped for overflowing gradients; final scale 65536.")
	assert.NotContains(t, stdout.String(), "kNN top-1")
	assert.Contains(t, stderr.String(), "scale 2^16  skipped 0")
	assert.Regexp(t, `  data [0-9]+%  ETA `, stderr.String(), "the share of the epoch spent waiting for batches")
	log, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	assert.Regexp(t, `"type":"step",[^\n]*"data_s":[0-9.e-]+`, string(log), "each step's wait for its batch")
	assert.NotContains(t, string(log), `"type":"knn"`)
	assert.Contains(t, string(log), `"loss_scale":65536`)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8}, logSteps(t, filepath.Join(out, "metrics.jsonl")))
	assert.FileExists(t, filepath.Join(out, "backbone.safetensors"))
}

// TestHalfPrecision: --precision fp16 trains under autocast (emulated on
// the CPU) with dynamic loss scaling by default, and says so; bf16 needs
// no scaling.
func TestHalfPrecision(t *testing.T) {
	for _, c := range []struct{ precision, scaling string }{{"fp16", "of 8 steps skipped for overflowing gradients"}, {"bf16", ""}} {
		out := t.TempDir()
		var stdout, stderr bytes.Buffer
		require.NoError(t, run(append(syntheticArgs(out, 2), "--precision", c.precision), &stdout, &stderr), c.precision)
		assert.Contains(t, stdout.String(), "Precision: "+c.precision+" autocast on cpu-f32")
		if c.scaling != "" {
			assert.Contains(t, stdout.String(), c.scaling)
		} else {
			assert.NotContains(t, stdout.String(), "Loss scaling")
		}
		log, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
		require.NoError(t, err)
		assert.NotContains(t, string(log), "NaN")
	}
}

// TestResumeOtherRunNamesTheDifference: --resume with flags that make
// another run refuses, naming each flag that differs and both values.
func TestResumeOtherRunNamesTheDifference(t *testing.T) {
	out := t.TempDir()
	var sink bytes.Buffer
	require.NoError(t, run(append(syntheticArgs(out, 1), "--precision", "fp16"), &sink, &sink))
	err := run(append(syntheticArgs(out, 2), "--resume", "--lr", "3e-4"), &sink, &sink)
	require.Error(t, err)
	for _, want := range []string{
		"was written by another run",
		"--epochs 1 there, 2 here",
		"--lr 0.00015 there, 0.0003 here",
		"loss scaling dynamic from 65536, growth every 2000 steps there, off here",
	} {
		assert.ErrorContains(t, err, want)
	}
}

// TestVal: with --val the kNN monitor classifies those images and every
// image of --data trains; a --val of other classes is refused.
func TestVal(t *testing.T) {
	train := writeFolder(t, 3, 6, 16)
	val := writeFolder(t, 3, 2, 16)
	var out bytes.Buffer
	args := tinyArgs(train, t.TempDir(), 1)
	args = slices.Delete(args, slices.Index(args, "--holdout"), slices.Index(args, "--holdout")+2)
	require.NoError(t, run(append(args, "--val", val), &out, &out), out.String())
	assert.Contains(t, out.String(), fmt.Sprintf("18 training images (3 classes), kNN on 6 images of %s", val))
	assert.Contains(t, out.String(), "kNN top-1")

	require.NoError(t, os.RemoveAll(filepath.Join(val, "class0")))
	err := run(append(args, "--val", val), &out, &out)
	assert.ErrorContains(t, err, `class 0 is "class1", where the training images' is "class0"`)
}

// TestUnlabelled: MoCo v3 trains on images without labels (a folder with
// no class folders), with no kNN monitor; --holdout 0 turns the monitor
// off for labelled images too, training on every one.
func TestUnlabelled(t *testing.T) {
	labelled := writeFolder(t, 2, 5, 16)
	flat := t.TempDir()
	for _, c := range []string{"class0", "class1"} {
		files, err := os.ReadDir(filepath.Join(labelled, c))
		require.NoError(t, err)
		for _, f := range files {
			require.NoError(t, os.Rename(filepath.Join(labelled, c, f.Name()), filepath.Join(flat, c+"_"+f.Name())))
		}
	}
	labelled = writeFolder(t, 2, 5, 16)
	// noHoldout: tinyArgs without --holdout and --knn-k (no monitor to tune).
	noHoldout := func(args []string) []string {
		for _, f := range []string{"--holdout", "--knn-k"} {
			i := slices.Index(args, f)
			args = slices.Delete(args, i, i+2)
		}
		return args
	}
	var out bytes.Buffer
	dir := t.TempDir()
	require.NoError(t, run(noHoldout(tinyArgs(flat, dir, 1)), &out, &out), out.String())
	assert.Contains(t, out.String(), "10 training images (unlabelled); no kNN monitor: the images are unlabelled")
	assert.NotContains(t, out.String(), "kNN top-1")
	_, err := os.Stat(filepath.Join(dir, "backbone.safetensors"))
	require.NoError(t, err)
	logged, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	require.NoError(t, err)
	assert.NotContains(t, string(logged), `"type":"knn"`)

	out.Reset()
	require.NoError(t, run(append(noHoldout(tinyArgs(labelled, t.TempDir(), 1)), "--holdout", "0"), &out, &out), out.String())
	assert.Contains(t, out.String(), "10 training images (2 classes); no kNN monitor: --holdout 0")

	err = run(append(noHoldout(tinyArgs(flat, t.TempDir(), 1)), "--val", labelled), &out, &out)
	assert.ErrorContains(t, err, "has the images are unlabelled, and the kNN monitor")
	err = run(append(noHoldout(tinyArgs(flat, t.TempDir(), 1)), "--knn-every", "2"), &out, &out)
	assert.ErrorContains(t, err, "--knn-every has no effect: there is no kNN monitor")

	// One class: the monitor would score 100% whatever the network.
	labelled = writeFolder(t, 2, 8, 16)
	out.Reset()
	require.NoError(t, run(noHoldout(tinyArgs(filepath.Join(labelled, "class0"), t.TempDir(), 1)), &out, &out), out.String())
	assert.Contains(t, out.String(), "8 training images (unlabelled)")
	one := t.TempDir()
	require.NoError(t, os.Rename(filepath.Join(labelled, "class1"), filepath.Join(one, "class1")))
	out.Reset()
	require.NoError(t, run(noHoldout(tinyArgs(one, t.TempDir(), 1)), &out, &out), out.String())
	assert.Contains(t, out.String(), "8 training images (1 classes); no kNN monitor: one class")

	// A run resumed with other images held out of training is refused.
	labelled = writeFolder(t, 2, 8, 16)
	dir = t.TempDir()
	require.NoError(t, run(append(noHoldout(tinyArgs(labelled, dir, 1)), "--holdout", "0", "--limit", "8"), &out, &out), out.String())
	err = run(append(noHoldout(tinyArgs(labelled, dir, 1)), "--holdout", "2", "--limit", "8", "--resume"), &out, &out)
	assert.ErrorContains(t, err, "held out of training (--holdout, --val) none there, 2 per class here")
}

// TestNonFiniteKNNWarns: a kNN pass whose features are not finite gives no
// accuracy; the run says so on stderr and in the log, and trains on to the
// end (the monitor watches the run, it does not stop it), with no kNN line
// and no before/after summary.
func TestNonFiniteKNNWarns(t *testing.T) {
	data := writeFolder(t, 3, 12, 16)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	poisonKNN = true
	err := run(tinyArgs(data, out, 2), &stdout, &stderr)
	poisonKNN = false
	require.NoError(t, err)
	for _, when := range []string{"at random init", "after epoch 1", "after epoch 2"} {
		assert.Contains(t, stderr.String(), "warning: no kNN accuracy "+when+": ")
	}
	assert.Contains(t, stderr.String(), "not finite")
	assert.NotContains(t, stdout.String(), "kNN top-1")
	assert.Contains(t, stdout.String(), "Wrote ")
	log, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(log), `"text":"no kNN accuracy after epoch 2: `)
	assert.NotContains(t, string(log), `"type":"knn"`)
	f, err := nn.ReadSafetensors(filepath.Join(out, "checkpoint.safetensors"))
	require.NoError(t, err)
	assert.Contains(t, f.Metadata["mocogo"], `"step":`)
	for _, tn := range f.Tensors {
		vals, err := tn.Float64s()
		require.NoError(t, err)
		for _, v := range vals {
			require.False(t, math.IsInf(v, 0) || math.IsNaN(v), "%s: the poison was not taken back after the kNN pass", tn.Name)
		}
	}
}

// TestErrorAfterProgressLine: a run stopped mid-epoch ends its progress
// line, so that the error main prints starts on a line of its own.
func TestErrorAfterProgressLine(t *testing.T) {
	data := writeFolder(t, 3, 12, 16)
	var stdout, stderr bytes.Buffer
	poisonAtStep = 3
	err := run(tinyArgs(data, t.TempDir(), 1), &stdout, &stderr)
	poisonAtStep = 0
	require.ErrorContains(t, err, "training stopped at step 3")
	require.Contains(t, stderr.String(), "\repoch 1/1 [")
	require.True(t, strings.HasSuffix(stderr.String(), "\n"), "stderr ends mid-line: %q", stderr.String())
}
