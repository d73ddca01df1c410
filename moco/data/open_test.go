package data

import (
	"os"
	"path/filepath"
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
