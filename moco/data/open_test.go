package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenRecognisesLayouts(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "cat"), 0o755))
	_, err := Open(dir, "test")
	assert.ErrorIs(t, err, ErrNoTestSplit)
	_, err = Open(filepath.Join(dir, "nope"), "train")
	assert.ErrorContains(t, err, "no such file")
	f := filepath.Join(dir, "x.zip")
	require.NoError(t, os.WriteFile(f, []byte("zip"), 0o644))
	_, err = Open(f, "train")
	assert.ErrorContains(t, err, "not a .tar")
	_, err = Open(dir, "val")
	assert.ErrorContains(t, err, "want train or test")
	if _, err := os.Stat(FashionMNISTDir); err == nil {
		ds, err := OpenFashionMNIST("test")
		require.NoError(t, err)
		assert.Equal(t, 10000, ds.Len())
		assert.Equal(t, FashionMNISTClasses, ds.Classes())
	}
}

// TestOpenCIFARWithoutTestBatch: a CIFAR folder without its test batch
// has no test split (ErrNoTestSplit, which callers answer by holding
// training images out), as an MNIST folder without t10k files; a test
// batch that is there but broken is an error of its own.
func TestOpenCIFARWithoutTestBatch(t *testing.T) {
	for _, c := range []struct {
		train, test string
		recBytes    int
	}{
		{"data_batch_1.bin", "test_batch.bin", 1},
		{"train.bin", "test.bin", 2},
	} {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, c.train), cifarBytes(3, c.recBytes, func(r int) []byte { return []byte{byte(r), byte(r)} }))
		d, err := Open(dir, "train")
		require.NoError(t, err)
		require.Equal(t, 3, d.Len())
		_, err = Open(dir, "test")
		require.ErrorIs(t, err, ErrNoTestSplit, c.train)
		require.ErrorContains(t, err, "but no "+c.test)
		d, err = OpenEval(dir)
		require.NoError(t, err, "OpenEval falls back to the training batches")
		require.Equal(t, 3, d.Len())

		test := filepath.Join(dir, c.test)
		writeFile(t, test, cifarBytes(2, c.recBytes, func(r int) []byte { return []byte{0, 0} }))
		d, err = Open(dir, "test")
		require.NoError(t, err)
		require.Equal(t, 2, d.Len())
		// Broken: cut short, or a link to nothing.
		writeFile(t, test, cifarBytes(2, c.recBytes, func(r int) []byte { return []byte{0, 0} })[:100])
		_, err = Open(dir, "test")
		require.ErrorContains(t, err, test)
		require.NotErrorIs(t, err, ErrNoTestSplit)
		require.NoError(t, os.Remove(test))
		require.NoError(t, os.Symlink(filepath.Join(dir, "gone.bin"), test))
		_, err = Open(dir, "test")
		require.ErrorContains(t, err, test)
		require.NotErrorIs(t, err, ErrNoTestSplit)
	}
}

// mnistFiles writes the named IDX files of an MNIST-family set into dir:
// "train-images-idx3-ubyte.gz" holds 4 images, a labels file 4 labels,
// t10k files 2; a name with .gz is gzip-compressed.
func mnistFiles(t *testing.T, dir string, names ...string) {
	for _, n := range names {
		count := 4
		if strings.Contains(n, "t10k") {
			count = 2
		}
		b := idxBytes([]int{count}, []byte{0, 1, 2, 3}[:count])
		if strings.Contains(n, "idx3") {
			b = idxBytes([]int{count, 2, 3}, make([]byte, count*6))
		}
		if strings.HasSuffix(n, ".gz") {
			b = gzipBytes(b)
		}
		writeFile(t, filepath.Join(dir, n), b)
	}
}

// TestOpenDataFile: an MNIST IDX images file, or a CIFAR batch, given as
// the data itself is read, the IDX labels found beside it; the file is
// one split.
func TestOpenDataFile(t *testing.T) {
	dir := t.TempDir()
	mnistFiles(t, dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte.gz",
		"emnist-letters-train-images-idx3-ubyte", "emnist-letters-train-labels-idx1-ubyte")
	for name, n := range map[string]int{
		"train-images-idx3-ubyte.gz":             4,
		"t10k-images-idx3-ubyte":                 2, // labels gzip-compressed, images not
		"emnist-letters-train-images-idx3-ubyte": 4,
	} {
		p := filepath.Join(dir, name)
		d, err := Open(p, "train")
		require.NoError(t, err, name)
		require.Equal(t, n, d.Len(), name)
		require.Equal(t, p+"#0", d.(Namer).Name(0))
		_, err = Open(p, "test")
		require.ErrorIs(t, err, ErrNoTestSplit, name)
		d, err = OpenEval(p)
		require.NoError(t, err, name)
		require.Equal(t, n, d.Len(), name)
	}
	fashion := filepath.Join(dir, "fashion")
	mnistFiles(t, fashion, "train-images-idx3-ubyte", "train-labels-idx1-ubyte")
	d, err := Open(filepath.Join(fashion, "train-images-idx3-ubyte"), "train")
	require.NoError(t, err)
	require.Equal(t, FashionMNISTClasses, d.Classes())

	// Its labels missing, or the labels file given.
	lone := filepath.Join(dir, "lone")
	mnistFiles(t, lone, "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte")
	_, err = Open(filepath.Join(lone, "train-images-idx3-ubyte.gz"), "train")
	require.ErrorContains(t, err, "its labels file is not beside it (looked for "+filepath.Join(lone, "train-labels-idx1-ubyte.gz")+" and "+filepath.Join(lone, "train-labels-idx1-ubyte")+")")
	_, err = Open(filepath.Join(lone, "t10k-labels-idx1-ubyte"), "train")
	require.ErrorContains(t, err, "is an IDX labels file: give the images file, t10k-images-idx3-ubyte, whose labels are found beside it, or the folder that holds both")

	// CIFAR batches: a CIFAR-10 batch alone, CIFAR-100's train.bin.
	cifar := filepath.Join(dir, "cifar")
	writeFile(t, filepath.Join(cifar, "data_batch_1.bin"), cifarBytes(3, 1, func(r int) []byte { return []byte{byte(r)} }))
	writeFile(t, filepath.Join(cifar, "data_batch_2.bin"), cifarBytes(2, 1, func(r int) []byte { return []byte{byte(r)} }))
	writeFile(t, filepath.Join(cifar, "test_batch.bin"), cifarBytes(1, 1, func(r int) []byte { return []byte{byte(r)} }))
	writeFile(t, filepath.Join(dir, "c100", "train.bin"), cifarBytes(2, 2, func(r int) []byte { return []byte{0, 99} }))
	for p, n := range map[string]int{
		filepath.Join(cifar, "data_batch_2.bin"): 2,
		filepath.Join(cifar, "test_batch.bin"):   1,
		filepath.Join(dir, "c100", "train.bin"):  2,
	} {
		d, err := Open(p, "train")
		require.NoError(t, err, p)
		require.Equal(t, n, d.Len(), p)
		_, err = Open(p, "test")
		require.ErrorIs(t, err, ErrNoTestSplit, p)
	}
	for _, p := range []string{filepath.Join(cifar, "data_batch_x.bin"), filepath.Join(dir, "notes.txt")} {
		writeFile(t, p, nil)
		_, err = Open(p, "train")
		require.ErrorContains(t, err, p+" is a file but not a .tar, .tar.gz or .tgz archive, an MNIST IDX images file")
	}
}

// TestOpenMNISTFolderMissingFile: an MNIST folder that lacks a file of
// the split asked for says which, rather than being taken for an empty
// ImageFolder.
func TestOpenMNISTFolderMissingFile(t *testing.T) {
	for _, c := range []struct {
		files       []string
		split, want string
	}{
		{[]string{"train-images-idx3-ubyte.gz"}, "train", "holds train-images-idx3-ubyte.gz but not its labels, train-labels-idx1-ubyte[.gz]"},
		{[]string{"train-labels-idx1-ubyte"}, "train", "holds train-labels-idx1-ubyte but not its images, train-images-idx3-ubyte[.gz]"},
		{[]string{"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}, "train", "holds MNIST's test files (t10k-…) but no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]"},
		{[]string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"}, "test", "holds t10k-images-idx3-ubyte.gz but not its labels, t10k-labels-idx1-ubyte[.gz]"},
	} {
		dir := t.TempDir()
		mnistFiles(t, dir, c.files...)
		_, err := Open(dir, c.split)
		require.ErrorContains(t, err, dir+" "+c.want, "%v", c.files)
		require.NotErrorIs(t, err, ErrNoTestSplit)
	}
	// Without t10k files there is no test split; with them, there is, the
	// images gzip-compressed and the labels not.
	dir := t.TempDir()
	mnistFiles(t, dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
	_, err := Open(dir, "test")
	require.ErrorIs(t, err, ErrNoTestSplit)
	mnistFiles(t, dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte")
	d, err := Open(dir, "test")
	require.NoError(t, err)
	require.Equal(t, 2, d.Len())
}

// TestOpenCIFARFolderMissingTraining: a CIFAR folder with its test batch
// alone gives it as the test split, and says that the training batches
// are missing.
func TestOpenCIFARFolderMissingTraining(t *testing.T) {
	for _, c := range []struct {
		test       string
		labelBytes int
		want       string
	}{
		{"test_batch.bin", 1, "holds CIFAR-10's test_batch.bin but no training batches, data_batch_*.bin"},
		{"test.bin", 2, "holds CIFAR-100's test.bin but no train.bin"},
	} {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, c.test), cifarBytes(3, c.labelBytes, func(r int) []byte { return []byte{0, 0} }))
		d, err := Open(dir, "test")
		require.NoError(t, err, c.test)
		require.Equal(t, 3, d.Len())
		_, err = Open(dir, "train")
		require.ErrorContains(t, err, dir+" "+c.want)
	}
}
