package main

import (
	"io"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// stdoutOf runs fn with os.Stdout sent to a pipe and returns what it
// printed.
func stdoutOf(t *testing.T, fn func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	saved := os.Stdout
	os.Stdout = w
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		got <- string(b)
	}()
	runErr := fn()
	os.Stdout = saved
	require.NoError(t, w.Close())
	return <-got, runErr
}

// TestCPUSmoke runs `bench cpu` on its smallest shape: a header, then a
// row for the shape with a positive rate at each thread count asked for.
func TestCPUSmoke(t *testing.T) {
	out, err := stdoutOf(t, func() error {
		return runCPU([]string{"-match", "^square 256x", "-runs", "2", "-min-run", "1ms", "-threads", "1,2"})
	})
	require.NoError(t, err)
	rows := regexp.MustCompile(`(?m)^square\s+256x256x256 NN\s+([0-9.]+)$`).FindAllStringSubmatch(out, -1)
	require.Len(t, rows, 2, "one row a thread count:\n%s", out)
	for _, r := range rows {
		v, err := strconv.ParseFloat(r[1], 64)
		require.NoError(t, err)
		require.Greater(t, v, 0.0, out)
	}
	require.Contains(t, out, "threads 2")
}

// TestTrainSmoke runs `bench train` on a tiny ViT: one row with a positive
// rate and a peak memory.
func TestTrainSmoke(t *testing.T) {
	out, err := stdoutOf(t, func() error {
		return runTrain([]string{"-img", "16", "-patch", "4", "-dim", "16", "-depth", "1", "-heads", "2",
			"-mlp-dim", "32", "-out-dim", "16", "-batch", "4", "-steps", "2", "-warmup", "1", "-threads", "1"})
	})
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^1\s+mocogo\s+([0-9.]+)\s+([0-9]+)\s*$`).FindStringSubmatch(out)
	require.NotNil(t, m, "a row for one thread:\n%s", out)
	for _, s := range m[1:] {
		v, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		require.Greater(t, v, 0.0, out)
	}
}

// TestDataSmoke runs `bench data` on a few generated small JPEGs: a row
// with a positive rate at each worker count asked for.
func TestDataSmoke(t *testing.T) {
	out, err := stdoutOf(t, func() error {
		return runData([]string{"-images", "8", "-gen-size", "41x29", "-img", "16", "-batch", "4", "-batches", "3", "-workers", "1,2"})
	})
	require.NoError(t, err)
	require.Contains(t, out, "8 generated 41x29 JPEGs")
	rows := regexp.MustCompile(`(?m)^([12])\s+mocogo\s+([0-9.]+)\s*$`).FindAllStringSubmatch(out, -1)
	require.Len(t, rows, 2, "one row a worker count:\n%s", out)
	dec := regexp.MustCompile(`(?m)^([12])\s+mocogo: read and decode only\s+([0-9.]+)\s*$`).FindAllStringSubmatch(out, -1)
	require.Len(t, dec, 2, "a decode-only row a worker count:\n%s", out)
	rows = append(rows, dec...)
	for _, r := range rows {
		v, err := strconv.ParseFloat(r[2], 64)
		require.NoError(t, err)
		require.Greater(t, v, 0.0, out)
	}
	_, err = stdoutOf(t, func() error { return runData([]string{"-gen-size", "40by30"}) })
	require.ErrorContains(t, err, "-gen-size")
}
