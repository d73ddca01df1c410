package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/moco"
	"github.com/mocogo/mocogo/nn"
)

// TestFreshRunKeepsAnotherRun: a run started without --resume into a
// folder that holds another run's checkpoint, or this run unfinished, is
// refused before it writes anything (the log and checkpoint stay as they
// were); a finished run of the same flags is run again (the
// demonstration twice); --overwrite replaces whatever is there.
func TestFreshRunKeepsAnotherRun(t *testing.T) {
	var sink bytes.Buffer
	out := t.TempDir()
	require.NoError(t, run(syntheticArgs(out, 2), &sink, &sink))
	files := []string{"checkpoint.safetensors", "metrics.jsonl", "backbone.safetensors"}
	snapshot := func() map[string][]byte {
		m := map[string][]byte{}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(out, f))
			require.NoError(t, err)
			m[f] = b
		}
		return m
	}
	before := snapshot()

	err := run(syntheticArgs(out, 1), &sink, &sink)
	require.ErrorContains(t, err, "holds another run's checkpoint (2 of 2 epochs done, step 8; --epochs 2 there, 1 here")
	require.ErrorContains(t, err, "--resume continues it, --overwrite replaces it, or --out names another folder")
	err = run(append(syntheticArgs(out, 2), "--dim", "32"), &sink, &sink)
	require.ErrorContains(t, err, "model ViT 16 px, patch 4, dim 16, depth 1, 2 heads, projector and predictor 32→16, T 0.2 there, ViT 16 px, patch 4, dim 32,")
	// The recipe alone does not make the same run: the arithmetic too.
	err = run(append(syntheticArgs(out, 2), "--precision", "bf16"), &sink, &sink)
	require.ErrorContains(t, err, "--precision fp32 there, bf16 here")
	assert.Equal(t, before, snapshot(), "a refused run changed the files")

	// The same flags again: the finished run is made again.
	sink.Reset()
	require.NoError(t, run(syntheticArgs(out, 2), &sink, &sink))
	assert.Contains(t, sink.String(), "Replacing the finished run of these flags in")
	assert.Equal(t, before["checkpoint.safetensors"], snapshot()["checkpoint.safetensors"], "the same flags made another run")

	// Replaced, then stopped before the new run's first checkpoint: nothing
	// of the old run is left for --resume to take as the new one's.
	poisonAtStep = 1
	err = run(syntheticArgs(out, 2), &sink, &sink)
	poisonAtStep = 0
	require.ErrorContains(t, err, "training stopped at step 1")
	require.ErrorContains(t, err, "no checkpoint was written before it")
	for _, f := range []string{"checkpoint.safetensors", "backbone.safetensors"} {
		_, err := os.Stat(filepath.Join(out, f))
		require.ErrorIs(t, err, os.ErrNotExist, "%s of the replaced run", f)
	}
	require.Error(t, run(append(syntheticArgs(out, 2), "--resume"), &sink, &sink))

	// This run unfinished: --resume is what continues it.
	stopAfterEpochs = 1
	err = run(append(syntheticArgs(out, 2), "--overwrite"), &sink, &sink)
	stopAfterEpochs = 0
	require.ErrorIs(t, err, errStopped)
	err = run(syntheticArgs(out, 2), &sink, &sink)
	require.ErrorContains(t, err, "holds this run unfinished (1 of 2 epochs done, step 4)")
	require.NoError(t, run(append(syntheticArgs(out, 2), "--resume"), &sink, &sink))

	// --overwrite replaces another run, and the old run's backbone and
	// plots go first: a replacing run stopped early leaves none of them.
	stopAfterEpochs = 1
	err = run(append(syntheticArgs(out, 3), "--overwrite"), &sink, &sink)
	stopAfterEpochs = 0
	require.ErrorIs(t, err, errStopped)
	assert.NoFileExists(t, filepath.Join(out, "backbone.safetensors"))
	require.NoError(t, run(append(syntheticArgs(out, 1), "--overwrite"), &sink, &sink))
	err = run(append(syntheticArgs(out, 1), "--overwrite", "--resume"), &sink, &sink)
	require.ErrorContains(t, err, "give one")

	// A file that is not a checkpoint is not replaced either.
	require.NoError(t, os.WriteFile(filepath.Join(out, "checkpoint.safetensors"), []byte("not a checkpoint"), 0o644))
	err = run(syntheticArgs(out, 1), &sink, &sink)
	require.ErrorContains(t, err, "holds a checkpoint this run would replace and cannot read")
}

// TestOutPathsCheckedFirst: an output path taken by a folder is reported
// before the run trains, not when it first saves.
func TestOutPathsCheckedFirst(t *testing.T) {
	for _, f := range []string{"checkpoint.safetensors", "backbone.safetensors", "metrics.jsonl"} {
		out := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(out, f), 0o755))
		var sink bytes.Buffer
		err := run(syntheticArgs(out, 1), &sink, &sink)
		require.ErrorContains(t, err, f+" is in the way: the run writes a file there, and it is a folder")
		assert.NotContains(t, sink.String(), "epoch 1/1", "it trained first")
	}
}

// TestFlagRanges: numbers no run can use are refused with the flag named,
// NaN included (a plain x <= 0 check lets NaN through).
func TestFlagRanges(t *testing.T) {
	out := t.TempDir()
	for _, tc := range []struct{ flag, value, want string }{
		{"--depth", "-1", "--depth -1: must be positive"},
		{"--heads", "0", "--heads 0: must be positive"},
		{"--img", "-16", "--img -16"},
		{"--mlp-dim", "0", "--mlp-dim 0"},
		{"--threads", "-3", "--threads -3: must be 0 or positive"},
		{"--spike-grad", "-1", "--spike-grad -1"},
		{"--spike-grad", "NaN", "--spike-grad NaN"},
		{"--spike-grad", "-Inf", "--spike-grad -Inf"},
		{"--spike-loss", "0", "--spike-loss 0"},
		{"--warmup", "-2", "--warmup -2"},
		{"--lr", "NaN", "learning rate must be a positive finite number, got NaN"},
		{"--lr", "Inf", "learning rate must be a positive finite number, got +Inf"},
		{"--wd", "-1", "weight decay must be a finite number >= 0, got -1"},
		{"--wd", "NaN", "weight decay"},
		{"--warmup", "NaN", "warmup of NaN epochs"},
		{"--moco-m", "NaN", "momentum NaN"},
		{"--temperature", "NaN", "temperature must be a positive finite number"},
	} {
		args := syntheticArgs(out, 1)
		if i := slices.Index(args, tc.flag); i >= 0 {
			args = slices.Delete(args, i, i+2)
		}
		var sink bytes.Buffer
		err := run(append(args, tc.flag, tc.value), &sink, &sink)
		require.ErrorContains(t, err, tc.want, "%s %s", tc.flag, tc.value)
	}
	// The limit and the kNN flags, on a folder (--synthetic refuses them).
	data := writeFolder(t, 3, 4, 16)
	for _, tc := range []struct{ flag, value string }{{"--limit", "-5"}, {"--knn-bank", "-5"}, {"--holdout", "-1"}, {"--knn-k", "0"}, {"--knn-every", "-1"}} {
		args := tinyArgs(data, out, 1)
		if i := slices.Index(args, tc.flag); i >= 0 {
			args = slices.Delete(args, i, i+2)
		}
		var sink bytes.Buffer
		err := run(append(args, tc.flag, tc.value), &sink, &sink)
		require.ErrorContains(t, err, tc.flag+" "+tc.value, "%s %s", tc.flag, tc.value)
	}
}

// TestBadImageWhileTraining: an image that cannot be decoded stops the
// run with its name, what checkpoint is kept and how to go on; with
// --skip-bad another image trains in its place and the count is reported,
// and the kNN monitor's passes go on past it too.
func TestBadImageWhileTraining(t *testing.T) {
	data := writeFolder(t, 3, 8, 16)
	require.NoError(t, os.WriteFile(filepath.Join(data, "class1", "003.png"), []byte("\x89PNG\r\n\x1a\n broken"), 0o644))
	args := tinyArgs(data, t.TempDir(), 2)
	i := slices.Index(args, "--holdout")
	args[i+1] = "0" // no kNN monitor: the training batches meet the image
	i = slices.Index(args, "--knn-k")
	args = slices.Delete(args, i, i+2)
	var sink bytes.Buffer
	err := run(args, &sink, &sink)
	require.ErrorContains(t, err, filepath.Join("class1", "003.png"))
	require.ErrorContains(t, err, "no checkpoint was written before it")
	require.ErrorContains(t, err, "replace or repair that file and run again")
	require.ErrorContains(t, err, "--skip-bad")

	sink.Reset()
	require.NoError(t, run(append(args, "--skip-bad", "--overwrite"), &sink, &sink), sink.String())
	assert.Contains(t, sink.String(), "--skip-bad: 2 times an image could not be read")

	// With the kNN monitor, whose bank holds the image.
	sink.Reset()
	require.NoError(t, run(append(tinyArgs(data, t.TempDir(), 1), "--skip-bad"), &sink, &sink), sink.String())
	assert.Contains(t, sink.String(), "kNN top-1")
}

// TestImageSizeFromData: the image size taken from the first training
// image is said to be so, and an unusable one names that image.
func TestImageSizeFromData(t *testing.T) {
	data := writeFolder(t, 3, 4, 8)
	args := tinyArgs(data, t.TempDir(), 1)
	i := slices.Index(args, "--img")
	args = slices.Delete(args, i, i+2)
	var sink bytes.Buffer
	require.NoError(t, run(append(args, "--holdout", "1", "--batch", "4"), &sink, &sink), sink.String())
	assert.Contains(t, sink.String(), "ViT 8 px (the size of the first training image")

	odd := writeFolder(t, 3, 6, 6) // 6 px is no multiple of the 4 px patch
	args = tinyArgs(odd, t.TempDir(), 1)
	i = slices.Index(args, "--img")
	args = slices.Delete(args, i, i+2)
	err := run(args, &sink, &sink)
	require.ErrorContains(t, err, "the image size 6 px is that of the first training image")
	require.ErrorContains(t, err, "give --img")

	// An error that is not about the size does not blame it.
	args = tinyArgs(data, t.TempDir(), 1)
	i = slices.Index(args, "--img")
	args = slices.Delete(args, i, i+2)
	err = run(append(args, "--heads", "3", "--holdout", "1", "--batch", "4"), &sink, &sink)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "first training image")
}

// TestResumeAfterImagesChanged: a run whose images were removed since it
// started says that the data changed and how to go on, not that the
// flags differ.
func TestResumeAfterImagesChanged(t *testing.T) {
	data := writeFolder(t, 3, 12, 16)
	out := t.TempDir()
	var sink bytes.Buffer
	stopAfterEpochs = 1
	err := run(tinyArgs(data, out, 2), &sink, &sink)
	stopAfterEpochs = 0
	require.ErrorIs(t, err, errStopped)
	require.NoError(t, os.Remove(filepath.Join(data, "class2", "001.png")))
	err = run(append(tinyArgs(data, out, 2), "--resume"), &sink, &sink)
	require.ErrorContains(t, err, "its run trained on 30 images of")
	require.ErrorContains(t, err, "and 29 are here: the images (or --limit) changed")
	require.ErrorContains(t, err, "--skip-bad")

	// Another --holdout changes the count too, and is named as the flag it is.
	args := tinyArgs(data, out, 2)
	args[slices.Index(args, "--holdout")+1] = "3"
	err = run(append(args, "--resume"), &sink, &sink)
	require.ErrorContains(t, err, "was written by another run")
	require.ErrorContains(t, err, "2 per class there, 3 per class here")
	assert.NotContains(t, err.Error(), "restore them")
}

// TestSkipBadFirstImage: with --skip-bad an unreadable first image does
// not stop the run where it picks the image size from the data.
func TestSkipBadFirstImage(t *testing.T) {
	data := writeFolder(t, 3, 8, 16)
	require.NoError(t, os.WriteFile(filepath.Join(data, "class0", "000.png"), []byte("not a png"), 0o644))
	args := tinyArgs(data, t.TempDir(), 1)
	i := slices.Index(args, "--img")
	args = slices.Delete(args, i, i+2)
	var sink bytes.Buffer
	err := run(args, &sink, &sink)
	require.ErrorContains(t, err, "000.png")
	require.NoError(t, run(append(args, "--skip-bad", "--out", t.TempDir()), &sink, &sink), sink.String())
	assert.Contains(t, sink.String(), "ViT 16 px (the size of the first training image")
}

// TestCPUProfile: --cpuprofile writes a profile of the run (gzipped, as
// pprof writes it), and a path that cannot be created is refused first.
func TestCPUProfile(t *testing.T) {
	out := t.TempDir()
	prof := filepath.Join(out, "cpu.prof")
	var sink bytes.Buffer
	require.NoError(t, run(append(syntheticArgs(out, 1), "--cpuprofile", prof), &sink, &sink))
	b, err := os.ReadFile(prof)
	require.NoError(t, err)
	require.Greater(t, len(b), 2)
	assert.Equal(t, []byte{0x1f, 0x8b}, b[:2], "not a gzipped pprof profile")
	err = run(append(syntheticArgs(out, 1), "--cpuprofile", filepath.Join(out, "missing", "cpu.prof")), &sink, &sink)
	require.ErrorContains(t, err, "--cpuprofile")
}

// TestFreshRunDiffOlderCheckpoint: a checkpoint from before the device and
// precision were recorded is never taken for the same run, and the reason
// says so rather than naming two "unrecorded" flags.
func TestFreshRunDiffOlderCheckpoint(t *testing.T) {
	tc := moco.DefaultTrainConfig(2, 8)
	cfg := moco.Config{ViT: nn.Config{ImageSize: 16, PatchSize: 4, Dim: 16, Depth: 1, Heads: 2}, MLPDim: 32, OutDim: 16, Temperature: 0.2}
	o := &options{device: "cpu", precision: "fp32", seed: 3}
	st := moco.RunState{Model: cfg, Train: tc, Seed: 3, Data: "d", DataLen: 32, HeldOut: "none"}
	assert.Equal(t, "written by an earlier build, which did not record its device, precision and --skip-bad",
		freshRunDiff(st, o, cfg, tc, "d", 32, "none"))
	st.Device, st.Precision = "cpu", "fp32"
	assert.Empty(t, freshRunDiff(st, o, cfg, tc, "d", 32, "none"))
	st.Precision = "bf16"
	assert.Equal(t, "--precision bf16 there, fp32 here", freshRunDiff(st, o, cfg, tc, "d", 32, "none"))
}
