//go:build unix

package data

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// within runs f and returns its error, or fails the test if f has not
// returned after a few seconds (a reader blocked on a named pipe, or
// reading a device that never ends).
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still running after 5s", what)
		return nil
	}
}

func mkfifo(t *testing.T, p string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, syscall.Mkfifo(p, 0o644))
}

// TestNotRegularFiles: a named pipe, or a link to a device, where a
// reader expects a file is refused by name, rather than waited on or
// read without end.
func TestNotRegularFiles(t *testing.T) {
	dir := t.TempDir()
	requireNotRegular := func(err error, p, what string) {
		t.Helper()
		require.ErrorIs(t, err, ErrNotRegular)
		require.ErrorContains(t, err, p+" is "+what+", not a regular file")
	}

	// Tar archives: given as a file, in a list, in a folder of shards.
	fifoTar := filepath.Join(dir, "tars", "x.tar")
	mkfifo(t, fifoTar)
	requireNotRegular(within(t, "Open(fifo.tar)", func() error {
		_, err := Open(fifoTar, "train")
		return err
	}), fifoTar, "a named pipe (FIFO)")
	requireNotRegular(within(t, "NewTar(fifo.tar)", func() error {
		_, err := NewTar([]string{fifoTar}, TarOptions{})
		return err
	}), fifoTar, "a named pipe (FIFO)")
	requireNotRegular(within(t, "Open(folder of shards)", func() error {
		_, err := Open(filepath.Dir(fifoTar), "train")
		return err
	}), fifoTar, "a named pipe (FIFO)")
	zeroTar := filepath.Join(dir, "zero.tar")
	require.NoError(t, os.Symlink("/dev/zero", zeroTar))
	requireNotRegular(within(t, "NewTar(link to /dev/zero)", func() error {
		_, err := NewTar([]string{zeroTar}, TarOptions{})
		return err
	}), zeroTar, "a symbolic link to a character device")

	// An ImageFolder: a named pipe is found when the folder is listed, a
	// link to a device or a pipe when the image is read.
	root := folderFixture(t)
	img99 := filepath.Join(root, "b_cls", "0099.jpg")
	mkfifo(t, img99)
	requireNotRegular(within(t, "NewImageFolder(fifo image)", func() error {
		_, err := NewImageFolder(root)
		return err
	}), img99, "a named pipe (FIFO)")
	require.NoError(t, os.Remove(img99))
	require.NoError(t, os.Symlink("/dev/zero", img99))
	pipe := filepath.Join(dir, "pipe")
	mkfifo(t, pipe)
	pipeImg := filepath.Join(root, "b_cls", "0100.jpg")
	require.NoError(t, os.Symlink(pipe, pipeImg))
	f, err := NewImageFolder(root)
	require.NoError(t, err)
	require.Equal(t, 7, f.Len())
	require.Equal(t, img99, f.Name(2))
	requireNotRegular(within(t, "Item(link to /dev/zero)", func() error {
		_, err := f.Item(2)
		return err
	}), img99, "a symbolic link to a character device")
	requireNotRegular(within(t, "Item(link to a pipe)", func() error {
		_, err := f.Item(3)
		return err
	}), pipeImg, "a symbolic link to a named pipe (FIFO)")
	// Unlabelled: images directly in the folder.
	flat := filepath.Join(dir, "flat")
	writeFile(t, filepath.Join(flat, "a.png"), encodePNG(t, testRGBA(3, 3, 1)))
	mkfifo(t, filepath.Join(flat, "b.png"))
	requireNotRegular(within(t, "NewImageFolder(flat, fifo image)", func() error {
		_, err := NewImageFolder(flat)
		return err
	}), filepath.Join(flat, "b.png"), "a named pipe (FIFO)")

	// IDX files and CIFAR batches, and CIFAR's class names.
	idx := filepath.Join(dir, "mnist", "train-images-idx3-ubyte")
	mkfifo(t, idx)
	requireNotRegular(within(t, "ReadIDXFile(fifo)", func() error {
		_, err := ReadIDXFile(idx)
		return err
	}), idx, "a named pipe (FIFO)")
	cifar := filepath.Join(dir, "cifar")
	batch := filepath.Join(cifar, "data_batch_1.bin")
	require.NoError(t, os.MkdirAll(cifar, 0o755))
	require.NoError(t, os.Symlink("/dev/zero", batch))
	requireNotRegular(within(t, "NewCIFAR10(link to /dev/zero)", func() error {
		_, err := NewCIFAR10(batch)
		return err
	}), batch, "a symbolic link to a character device")
	require.NoError(t, os.Remove(batch))
	writeFile(t, batch, cifarBytes(2, 1, func(r int) []byte { return []byte{byte(r)} }))
	meta := filepath.Join(cifar, "batches.meta.txt")
	mkfifo(t, meta)
	requireNotRegular(within(t, "NewCIFAR10(fifo names)", func() error {
		_, err := NewCIFAR10(batch)
		return err
	}), meta, "a named pipe (FIFO)")
}
