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
