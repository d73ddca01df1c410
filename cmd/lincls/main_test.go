package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFolder(t *testing.T, classes, per, size int) string {
	root := t.TempDir()
	for c := 0; c < classes; c++ {
		dir := filepath.Join(root, fmt.Sprintf("class%d", c))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for i := 0; i < per; i++ {
			img := image.NewRGBA(image.Rect(0, 0, size, size))
			for y := 0; y < size; y++ {
				for x := 0; x < size; x++ {
					img.Set(x, y, color.RGBA{uint8(80*c + 3*x), uint8(7 * i), uint8(200 - 60*c + y), 255})
				}
			}
			var buf bytes.Buffer
			require.NoError(t, png.Encode(&buf, img))
			require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d.png", i)), buf.Bytes(), 0o644))
		}
	}
	return root
}

// TestStartsFromPyTorchFiles: lincls takes an official MoCo v3 .pth.tar
// and a timm/DeiT .pth as --pretrained, reading the ViT's shape from the
// tensors (heads from --heads), and refuses a damaged file by name.
func TestStartsFromPyTorchFiles(t *testing.T) {
	data := writeFolder(t, 3, 6, 16)
	var out bytes.Buffer
	for _, f := range []string{"mocov3_tiny.pth.tar", "deit_tiny.pth"} {
		out.Reset()
		args := []string{"--pretrained", "../../testdata/golden/" + f, "--heads", "2", "--data", data,
			"--mode", "both", "--epochs", "1", "--batch", "4", "--holdout", "2", "--knn-k", "3", "--workers", "1", "--cache-features"}
		require.NoError(t, run(args, &out, &out), out.String())
		assert.Contains(t, out.String(), "ViT 16 px, patch 4, dim 16, depth 2, heads 2")
		assert.Contains(t, out.String(), "kNN (k=3")
		assert.Contains(t, out.String(), "Linear probe (1 epochs)")
	}
	// Without --heads a width MoCo v3 has no preset for is an error that says so.
	err := run([]string{"--pretrained", "../../testdata/golden/mocov3_tiny.pth.tar", "--data", data}, &out, &out)
	assert.ErrorContains(t, err, "--heads")
	// A truncated .pth.tar.
	b, err := os.ReadFile("../../testdata/golden/mocov3_tiny.pth.tar")
	require.NoError(t, err)
	bad := filepath.Join(t.TempDir(), "cut.pth.tar")
	require.NoError(t, os.WriteFile(bad, b[:len(b)-1000], 0o644))
	err = run([]string{"--pretrained", bad, "--heads", "2", "--data", data}, &out, &out)
	assert.ErrorContains(t, err, "not a PyTorch zip checkpoint")
}

// TestStartsFromPretrainBackbone: the backbone pretrain exported (the
// timm-compatibility fixture) carries its shape in its metadata.
func TestStartsFromPretrainBackbone(t *testing.T) {
	data := writeFolder(t, 3, 6, 32)
	var out bytes.Buffer
	args := []string{"--pretrained", "../../testdata/golden/timm_compat/backbone.safetensors", "--data", data,
		"--mode", "knn", "--batch", "4", "--holdout", "2", "--knn-k", "3", "--workers", "1"}
	require.NoError(t, run(args, &out, &out), out.String())
	assert.Contains(t, out.String(), "ViT 32 px, patch 8, dim 48, depth 2, heads 3")
}

// TestDeviceAndPrecision: the device and precision flags are checked before
// any work, and the CPU runs the probe under bf16 autocast.
func TestDeviceAndPrecision(t *testing.T) {
	data := writeFolder(t, 3, 6, 32)
	base := []string{"--pretrained", "../../testdata/golden/timm_compat/backbone.safetensors", "--data", data,
		"--mode", "knn", "--batch", "4", "--holdout", "2", "--knn-k", "3", "--workers", "1"}
	var out bytes.Buffer
	err := run(append(base, "--device", "tpu"), &out, &out)
	assert.ErrorContains(t, err, `--device "tpu"`)
	err = run(append(base, "--precision", "fp8"), &out, &out)
	assert.ErrorContains(t, err, `--precision "fp8"`)
	out.Reset()
	require.NoError(t, run(append(base, "--precision", "bf16"), &out, &out), out.String())
	assert.Contains(t, out.String(), "bf16 autocast")
}

// writeShards writes the images of a writeFolder tree as WebDataset
// shards (key.png and key.cls members), shards archives, and returns
// their brace pattern.
func writeShards(t *testing.T, root string, shards int) string {
	classes, err := os.ReadDir(root)
	require.NoError(t, err)
	dir := t.TempDir()
	var ws []*tar.Writer
	for s := 0; s < shards; s++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("s-%d.tar", s)))
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		ws = append(ws, tar.NewWriter(f))
	}
	n := 0
	for c, cl := range classes {
		files, err := os.ReadDir(filepath.Join(root, cl.Name()))
		require.NoError(t, err)
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(root, cl.Name(), f.Name()))
			require.NoError(t, err)
			w := ws[n%shards]
			key := fmt.Sprintf("%06d", n)
			for _, m := range []struct {
				name string
				data []byte
			}{{key + ".png", b}, {key + ".cls", []byte(fmt.Sprint(c))}} {
				require.NoError(t, w.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}))
				_, err = w.Write(m.data)
				require.NoError(t, err)
			}
			n++
		}
	}
	for _, w := range ws {
		require.NoError(t, w.Close())
	}
	return filepath.Join(dir, fmt.Sprintf("s-{0..%d}.tar", shards-1))
}

// TestVal: --val evaluates on a set of its own, in any format, and is
// refused when its classes are not --data's.
func TestVal(t *testing.T) {
	train := writeFolder(t, 3, 6, 16)
	val := writeFolder(t, 3, 2, 16)
	base := []string{"--pretrained", "random", "--arch", "vit_tiny", "--img", "16", "--patch", "8", "--mode", "knn",
		"--batch", "4", "--knn-k", "3", "--workers", "1"}
	var out bytes.Buffer
	require.NoError(t, run(append(base, "--data", train, "--val", val), &out, &out), out.String())
	assert.Contains(t, out.String(), "18 training and 6 evaluation images, 3 classes")

	// WebDataset shards, through a brace pattern, on both sides.
	out.Reset()
	require.NoError(t, run(append(base, "--data", writeShards(t, train, 2), "--val", writeShards(t, val, 1)), &out, &out), out.String())
	assert.Contains(t, out.String(), "18 training and 6 evaluation images, 3 classes")

	// An evaluation set short of the last class keeps the labels' meaning.
	require.NoError(t, os.RemoveAll(filepath.Join(val, "class2")))
	out.Reset()
	require.NoError(t, run(append(base, "--data", train, "--val", val), &out, &out), out.String())
	assert.Contains(t, out.String(), "18 training and 4 evaluation images, 3 classes")

	// Short of another class, it would shift them: refused.
	require.NoError(t, os.RemoveAll(filepath.Join(val, "class0")))
	err := run(append(base, "--data", train, "--val", val), &out, &out)
	assert.ErrorContains(t, err, `class 0 is "class1", where the training images' is "class0"`)
	err = run(append(base, "--data", val, "--val", train), &out, &out)
	assert.ErrorContains(t, err, "3 classes, where the training images have 1")
	err = run(append(base, "--data", train, "--val", filepath.Join(val, "missing")), &out, &out)
	assert.ErrorContains(t, err, "--val")
	err = run(append(base, "--data", train, "--val", val, "--holdout", "2"), &out, &out)
	assert.ErrorContains(t, err, "give one")
	err = run(append(base, "--data", filepath.Join(train, "class1")), &out, &out)
	assert.ErrorContains(t, err, "holds unlabelled images")
	// Unlabelled evaluation images are refused before any work (the probe
	// would index its scores by their labels).
	err = run(append(base, "--data", train, "--val", filepath.Join(train, "class1"), "--mode", "linear"), &out, &out)
	assert.ErrorContains(t, err, "the images are unlabelled, and evaluation needs labels")
}

// TestRefusesBadFlagsBeforeWork: flags no probe can use are refused before
// the kNN pass (which can take long), with the flag named.
func TestRefusesBadFlagsBeforeWork(t *testing.T) {
	data := writeFolder(t, 3, 6, 16)
	base := []string{"--pretrained", "random", "--arch", "vit_tiny", "--dim", "16", "--depth", "1", "--heads", "2",
		"--data", data, "--holdout", "2", "--knn-k", "3", "--workers", "1", "--epochs", "1", "--batch", "4"}
	for _, tc := range []struct{ args, want string }{
		{"--lr NaN", "lr NaN"},
		{"--lr Inf", "lr +Inf"},
		{"--lr -1", "lr -1"},
		{"--epochs 0", "positive epochs"},
		{"--workers -2", "--workers -2"},
		{"--threads -1", "--threads -1"},
		{"--limit -5", "--limit -5"},
		{"--depth -1", "--depth -1"},
		{"--heads 0", "--heads 0"},
		{"--batch 100", "12 training images make no batch of 100"},
		{"--holdout 6", "0 training and 18 evaluation images: need at least one of each (lower --holdout, or give --val)"},
		{"--holdout 0", "give --val, or --holdout images per class"},
	} {
		var out bytes.Buffer
		err := run(append(append([]string{}, base...), strings.Fields(tc.args)...), &out, &out)
		require.ErrorContains(t, err, tc.want, tc.args)
		assert.NotContains(t, out.String(), "kNN (", "%s: refused only after the kNN pass", tc.args)
	}
}

// TestRandomBackboneShape: --pretrained random with --arch takes the image
// and patch size pretrain would for the data (16 px images: 16 px, patch
// 4), not a 1-pixel ViT; and --arch that contradicts a file's shape is an
// error, not ignored.
func TestRandomBackboneShape(t *testing.T) {
	data := writeFolder(t, 3, 6, 16)
	var out bytes.Buffer
	args := []string{"--pretrained", "random", "--arch", "vit_tiny", "--depth", "1", "--data", data,
		"--mode", "knn", "--batch", "4", "--holdout", "2", "--knn-k", "3", "--workers", "1"}
	require.NoError(t, run(args, &out, &out), out.String())
	assert.Contains(t, out.String(), "ViT 16 px, patch 4, dim 192, depth 1, heads 3")

	err := run([]string{"--pretrained", "../../testdata/golden/timm_compat/backbone.safetensors", "--arch", "vit_base",
		"--data", data, "--mode", "knn", "--holdout", "2"}, &out, &out)
	require.ErrorContains(t, err, "--arch vit_base is a ViT of width 768")
}

// TestDivergedProbeIsAnError: a probe whose loss goes non-finite stops
// with an error that says so; it never reports an accuracy (NaN logits
// once scored 100%).
func TestDivergedProbeIsAnError(t *testing.T) {
	data := writeFolder(t, 3, 6, 16)
	var out bytes.Buffer
	args := []string{"--pretrained", "random", "--arch", "vit_tiny", "--dim", "16", "--depth", "1", "--heads", "2",
		"--data", data, "--mode", "linear", "--holdout", "2", "--workers", "1", "--epochs", "3", "--batch", "4", "--cache-features", "--lr", "1e300"}
	err := run(args, &out, &out)
	require.ErrorContains(t, err, "linear probe diverged", out.String())
	assert.NotContains(t, out.String(), "top-1")
}

// TestSkipBad: an unreadable image stops lincls with its name; with
// --skip-bad another image of the set is used in its place, in the kNN
// passes, the probe's training and its evaluation.
func TestSkipBad(t *testing.T) {
	data := writeFolder(t, 3, 6, 16)
	require.NoError(t, os.WriteFile(filepath.Join(data, "class1", "02.png"), []byte("not a png"), 0o644))
	args := []string{"--pretrained", "random", "--arch", "vit_tiny", "--dim", "16", "--depth", "1", "--heads", "2",
		"--data", data, "--holdout", "2", "--knn-k", "3", "--workers", "1", "--epochs", "1", "--batch", "4"}
	var out bytes.Buffer
	err := run(args, &out, &out)
	require.ErrorContains(t, err, filepath.Join("class1", "02.png"))
	for _, cache := range []string{"--cache-features=false", "--cache-features"} {
		out.Reset()
		require.NoError(t, run(append(args, "--skip-bad", cache), &out, &out), out.String())
		assert.Contains(t, out.String(), "Linear probe (1 epochs)")
		assert.Regexp(t, `--skip-bad: [1-9][0-9]* times an image could not be read`, out.String())
	}
}
