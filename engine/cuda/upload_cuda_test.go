//go:build cuda

package cuda

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
)

// TestUploadAsync uploads on the upload stream from another goroutine
// while a product runs on the default stream, awaits, and checks every
// value (the destination NaN-poisoned first); more rounds than there are
// staging buffers exercise their reuse, and one round too many without
// AwaitUploads must be refused.
func TestUploadAsync(t *testing.T) {
	r := newRand(t)
	const n = 3<<20 + 7 // 12 MB and an odd tail
	dst := mustAlloc(t, 4*n)
	// Work on the default stream for the copy to run beside.
	const m = 2048
	a, b := upload16(t, make([]uint16, m*m)), upload16(t, make([]uint16, m*m))
	c := mustAlloc(t, 4*m*m)
	for round := range 2*asyncStaging + 1 {
		src := randF32(r, n, 1)
		must(t, dst.PoisonF32())
		must(t, dev.GemmF16(false, true, m, m, m, 1, a, m, b, m, 0, c, m, Epilogue{}))
		must(t, dev.FenceUploads()) // after the poisoning
		done := make(chan error)
		go func() { done <- dev.UploadAsync(dst, unsafe.Pointer(&src[0]), 4*n) }()
		must(t, <-done)
		must(t, dev.AwaitUploads())
		got := download32(t, dst, n)
		require.Equal(t, src, got, "round %d", round)
	}
	src := make([]float32, 1024)
	for i := range asyncStaging {
		require.NoError(t, dev.UploadAsync(dst, unsafe.Pointer(&src[0]), 4096), "upload %d", i)
	}
	assert.ErrorContains(t, dev.UploadAsync(dst, unsafe.Pointer(&src[0]), 4096), "not yet awaited")
	must(t, dev.AwaitUploads())
	must(t, dev.Synchronize())
}

// TestUploadFence queues about 100 ms of products whose output is the
// upload's destination (as when the allocator hands a block still written
// by queued kernels to the next batch), then FenceUploads and the upload
// of other values: the upload must land after the products, so the
// destination ends up holding the uploaded values. Without the fence the
// transfer (a few milliseconds after the host's staging copy) would land
// first and the later products would overwrite it.
func TestUploadFence(t *testing.T) {
	r := newRand(t)
	const m = 4096
	a, b := upload16(t, make([]uint16, m*m)), upload16(t, make([]uint16, m*m))
	dst := mustAlloc(t, 4*m*m)
	src := randF32(r, m*m, 1) // before the products: the upload must be queued while they run
	for range 400 {
		must(t, dev.GemmF16(false, true, m, m, m, 1, a, m, b, m, 0, dst, m, Epilogue{}))
	}
	must(t, dev.FenceUploads())
	done := make(chan error)
	go func() { done <- dev.UploadAsync(dst, unsafe.Pointer(&src[0]), 4*m*m) }()
	must(t, <-done)
	must(t, dev.AwaitUploads())
	got := download32(t, dst, m*m)
	for i := range src {
		if got[i] != src[i] {
			t.Fatalf("value %d is %g, not the uploaded %g: the upload landed before the products queued ahead of FenceUploads", i, got[i], src[i])
		}
	}
}

// TestBackendUploadAsync goes through engine.Engine.UploadAsync on the CUDA
// backend (engine.AsyncUploader) into a kept tensor.
func TestBackendUploadAsync(t *testing.T) {
	r := newRand(t)
	e := engine.New(NewBackend(dev))
	x, err := e.UploadTarget(5, 3, 33, 33)
	require.NoError(t, err)
	defer x.Free()
	src := randF32(r, x.Len(), 2)
	require.NoError(t, e.UploadAsync(x, src))
	require.NoError(t, e.AwaitUploads())
	assert.Equal(t, src, x.Data())
}
