package data

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// synthIDX is an in-memory 1-channel dataset of n 12×12 images in 4 classes.
func synthIDX(t testing.TB, n int) *IDX {
	px := make([]byte, n*144)
	for i := range px {
		px[i] = byte(i*31 + i/144*17)
	}
	lb := make([]byte, n)
	for i := range lb {
		lb[i] = byte(i % 4)
	}
	d, err := NewIDXBytes("img", idxBytes([]int{n, 12, 12}, px), "lbl", idxBytes([]int{n}, lb), nil)
	require.NoError(t, err)
	return d
}

type batchCopy struct {
	Pos     Position
	Views   [][]float32
	Labels  []int32
	Indices []int
}

func collect(t testing.TB, l *Loader, k int) []batchCopy {
	var out []batchCopy
	for i := 0; i < k; i++ {
		b, err := l.Next()
		require.NoError(t, err)
		c := batchCopy{Pos: b.Pos, Labels: append([]int32(nil), b.Labels[:b.N]...), Indices: append([]int(nil), b.Indices[:b.N]...)}
		for v := range b.Views {
			c.Views = append(c.Views, append([]float32(nil), b.View(v)...))
		}
		out = append(out, c)
	}
	return out
}

func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), base, "goroutines leaked")
}

func TestLoaderDeterministicAcrossWorkers(t *testing.T) {
	ds := synthIDX(t, 37)
	base := runtime.NumGoroutine()
	var ref []batchCopy
	for _, w := range []int{1, 3, 8} {
		l, err := NewLoader(ds, NewMoCoV3(8), LoaderConfig{BatchSize: 5, Workers: w, Prefetch: 3, Seed: 42, Shuffle: true})
		require.NoError(t, err)
		require.Equal(t, 8, l.BatchesPerEpoch())
		got := collect(t, l, 17) // two epochs and a bit
		require.NoError(t, l.Close())
		if ref == nil {
			ref = got
			continue
		}
		require.Equal(t, ref, got, "workers=%d", w)
	}
	waitGoroutines(t, base)
	// Epoch structure: 7 full batches and a last one of 2, every index once.
	seen := map[int]int{}
	for _, b := range ref[:8] {
		require.Equal(t, 0, b.Pos.Epoch)
		for i, idx := range b.Indices {
			seen[idx]++
			require.Equal(t, int32(idx%4), b.Labels[i])
		}
	}
	require.Len(t, seen, 37)
	require.Len(t, ref[7].Indices, 2)
	require.Len(t, ref[7].Views[1], 2*3*8*8)
	require.Equal(t, Position{1, 0}, ref[8].Pos)
	require.NotEqual(t, ref[0].Indices, ref[8].Indices, "reshuffled each epoch")
	require.Len(t, ref[0].Views, 2)
	require.Len(t, ref[0].Views[0], 5*3*8*8)
}

func TestLoaderDropLastNoShuffle(t *testing.T) {
	ds := synthIDX(t, 23)
	l, err := NewLoader(ds, NewEval(8), LoaderConfig{BatchSize: 5, Workers: 2, DropLast: true})
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, 4, l.BatchesPerEpoch())
	got := collect(t, l, 5)
	require.Equal(t, []int{0, 1, 2, 3, 4}, got[0].Indices)
	require.Equal(t, []int{15, 16, 17, 18, 19}, got[3].Indices)
	require.Equal(t, Position{1, 0}, got[4].Pos)
	require.Equal(t, []int{0, 1, 2, 3, 4}, got[4].Indices)
	require.Len(t, got[0].Views, 1)

	_, err = NewLoader(synthIDX(t, 3), NewEval(8), LoaderConfig{BatchSize: 5, DropLast: true})
	require.Error(t, err)
	_, err = NewLoader(ds, NewEval(8), LoaderConfig{BatchSize: 0})
	require.Error(t, err)
}

func TestLoaderResume(t *testing.T) {
	ds := synthIDX(t, 30)
	cfg := LoaderConfig{BatchSize: 4, Workers: 3, Seed: 9, Shuffle: true, DropLast: true}
	l, err := NewLoader(ds, NewMoCoV3(8), cfg)
	require.NoError(t, err)
	all := collect(t, l, 20)
	require.NoError(t, l.Close())

	for _, k := range []int{0, 5, 7, 13} {
		l, err := NewLoader(ds, NewMoCoV3(8), cfg)
		require.NoError(t, err)
		collect(t, l, k)
		pos := l.Position()
		require.NoError(t, l.Close())

		cfg2 := cfg
		cfg2.Start = pos
		cfg2.Workers = 1
		r, err := NewLoader(ds, NewMoCoV3(8), cfg2)
		require.NoError(t, err)
		require.Equal(t, all[k:], collect(t, r, 20-k), "resume after %d batches at %+v", k, pos)
		require.NoError(t, r.Close())
	}
	cfg.Start = Position{0, 99}
	_, err = NewLoader(ds, NewMoCoV3(8), cfg)
	require.Error(t, err)
}

// failing wraps a dataset and fails on some indices.
type failing struct {
	*IDX
	bad map[int]bool
}

func (f failing) Item(i int) (Sample, error) {
	if f.bad[i] {
		return Sample{}, fmt.Errorf("data: %s: corrupt (test)", f.Name(i))
	}
	return f.IDX.Item(i)
}

type broken struct{ *IDX }

func (b broken) Item(i int) (Sample, error) {
	return Sample{Image: Image{W: 3, H: 3, C: 3, Pix: make([]uint8, 5)}}, nil
}

func TestLoaderErrors(t *testing.T) {
	ds := failing{synthIDX(t, 20), map[int]bool{6: true}}
	l, err := NewLoader(ds, NewMoCoV3(8), LoaderConfig{BatchSize: 4, Workers: 2})
	require.NoError(t, err)
	_, err = l.Next()
	require.NoError(t, err)
	_, err = l.Next()
	require.ErrorContains(t, err, "img#6")
	// Counted from 1 in the message, as the progress bar counts; from 0
	// in Position.
	require.ErrorContains(t, err, "data: epoch 1, batch 2 of 5: ")
	var be *BatchError
	require.ErrorAs(t, err, &be)
	require.Equal(t, Position{0, 1}, be.Pos)
	require.Equal(t, 5, be.Batches)
	require.Equal(t, Position{0, 1}, l.Position())
	_, err2 := l.Next()
	require.Equal(t, err, err2, "errors are sticky")
	require.NoError(t, l.Close())

	// Skip-and-count: a deterministic substitute fills the slot.
	cfg := LoaderConfig{BatchSize: 4, Workers: 2, SkipErrors: true}
	run := func() ([]batchCopy, int64) {
		l, err := NewLoader(ds, NewMoCoV3(8), cfg)
		require.NoError(t, err)
		defer l.Close()
		got := collect(t, l, 5)
		return got, l.Skipped()
	}
	a, n := run()
	require.Equal(t, int64(1), n)
	require.NotContains(t, a[1].Indices, 6)
	b, _ := run()
	require.Equal(t, a, b)

	// Images that the transform rejects surface too.
	l, err = NewLoader(broken{synthIDX(t, 8)}, NewEval(8), LoaderConfig{BatchSize: 4, Workers: 2})
	require.NoError(t, err)
	_, err = l.Next()
	require.ErrorContains(t, err, "img#0")
	require.NoError(t, l.Close())
}

func TestLoaderCloseNoLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	ds := synthIDX(t, 64)
	for i := 0; i < 5; i++ {
		l, err := NewLoader(ds, NewMoCoV3(8), LoaderConfig{BatchSize: 4, Workers: 4, Prefetch: 2, Shuffle: true})
		require.NoError(t, err)
		if i%2 == 1 {
			_, err = l.Next()
			require.NoError(t, err)
		}
		time.Sleep(2 * time.Millisecond) // let the pipeline fill and block
		require.NoError(t, l.Close())
		require.NoError(t, l.Close())
		_, err = l.Next()
		require.True(t, errors.Is(err, ErrClosed))
	}
	waitGoroutines(t, base)
}

func TestLoaderSteadyStateAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	ds := synthIDX(t, 256) // IDX items share memory: no decode allocations
	l, err := NewLoader(ds, NewMoCoV3(8), LoaderConfig{BatchSize: 16, Workers: 2, Shuffle: true})
	require.NoError(t, err)
	defer l.Close()
	collect(t, l, 20) // warm up scratch buffers and epoch permutations
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := l.Next(); err != nil {
			t.Fatal(err)
		}
	})
	// The only allocation is the shuffle permutation at an epoch start
	// (one per 16 batches) — far below one per batch.
	require.Less(t, allocs, 1.0, "allocations per batch")
}
