package engine

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// asyncCPU is the CPU backend with AsyncUploader: uploads are recorded and
// land only when awaited, as a copy stream's would only be ordered then.
type asyncCPU struct {
	Backend
	mu      sync.Mutex
	pending []func()
	awaited int
	fenced  int
}

func (a *asyncCPU) UploadAsync(dst Storage, src []float32) error {
	c := append([]float32(nil), src...)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(a.pending, func() { a.Backend.Upload32(dst, c) })
	return nil
}

func (a *asyncCPU) FenceUploads() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fenced++
	return nil
}

func (a *asyncCPU) AwaitUploads() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range a.pending {
		f()
	}
	a.pending = nil
	a.awaited++
	return nil
}

func TestUploadAsyncFallsBackToUpload(t *testing.T) {
	e := New(NewCPU(F32))
	x := e.Empty(2, 3).Keep()
	defer x.Free()
	require.NoError(t, e.UploadAsync(x, []float32{1, 2, 3, 4, 5, 6}))
	require.NoError(t, e.AwaitUploads())
	assert.Equal(t, []float32{1, 2, 3, 4, 5, 6}, x.Data())
}

// TestUploadAsyncFromAnotherGoroutine uploads on a second goroutine while
// the first runs ops on other tensors (go test -race checks the claim that
// this is allowed), and the data counts only after AwaitUploads.
func TestUploadAsyncFromAnotherGoroutine(t *testing.T) {
	b := &asyncCPU{Backend: NewCPU(F32)}
	e := New(b)
	x, err := e.UploadTarget(4, 256)
	require.NoError(t, err)
	defer x.Free()
	assert.Equal(t, 1, b.fenced, "UploadTarget fences the uploads into it")
	assert.Equal(t, []int{4, 256}, x.Shape())
	src := make([]float32, 4*256)
	for i := range src {
		src[i] = float32(i)
	}
	done := make(chan error)
	go func() { done <- e.UploadAsync(x, src) }()
	y := e.Full(2, 64, 64)
	for range 10 {
		y = Mul(y, y)
		e.Reset()
		y = e.Full(2, 64, 64)
	}
	require.NoError(t, <-done)
	require.NoError(t, e.AwaitUploads())
	assert.Equal(t, 1, b.awaited)
	assert.Equal(t, src, x.Data())
}

func TestUploadAsyncRejects(t *testing.T) {
	e := New(NewCPU(F32))
	tmp := e.Empty(3)
	assert.ErrorContains(t, e.UploadAsync(tmp, []float32{1, 2, 3}), "kept")
	k := e.Empty(3).Keep()
	assert.ErrorContains(t, e.UploadAsync(k, []float32{1, 2}), "2 values")
	k.Free()
	assert.ErrorContains(t, e.UploadAsync(k, []float32{1, 2, 3}), "storage")
	h := e.EmptyAs(F16, 3).Keep()
	assert.ErrorContains(t, e.UploadAsync(h, []float32{1, 2, 3}), "backend")
}
