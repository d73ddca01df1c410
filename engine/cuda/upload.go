//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/mocogo/mocogo/engine"
)

// asyncStaging is the number of page-locked buffers UploadAsync uses in
// turn: the two views of the batch being uploaded and of the one before.
const asyncStaging = 4

// asyncUploads is the state of Device.UploadAsync: a stream of its own that
// does not synchronise with the default stream (a copy there runs beside
// the kernels queued on it), the staging buffers, and the buffers whose
// copies AwaitUploads has not yet ordered before the default stream's work.
//
// fence is recorded on the default stream by FenceUploads; every transfer
// waits for it before it writes, so a destination block the caching
// allocator handed back (freed by work still queued on the default stream)
// is not overwritten under that work.
type asyncUploads struct {
	mu       sync.Mutex
	stream   cu.Stream
	made     bool
	bufs     [asyncStaging]staging
	next     int
	pending  []int // indices into bufs
	fence    cu.Event
	fenced   bool // fence exists and has been recorded
	noPinned bool // page-locked memory was refused: plain uploads
}

// UploadAsync copies n bytes from host memory p into dst on the device's
// upload stream: the host copies them into a page-locked staging buffer
// (on every core) and queues the transfer, which then runs beside the
// kernels queued on the default stream since the last FenceUploads, and
// after those queued before it. It returns once p may change. Nothing on
// the default stream waits for the transfer until AwaitUploads. It may be
// called from any goroutine; a staging buffer is written again only after
// its transfer has been awaited and has finished. Where the host refuses
// page-locked memory it is a plain upload on the default stream.
func (d *Device) UploadAsync(dst *Buffer, p unsafe.Pointer, n int64) error {
	if n > dst.bytes {
		panic(fmt.Sprintf("cuda: UploadAsync of %d bytes into a %d-byte buffer", n, dst.bytes))
	}
	if n == 0 {
		return nil
	}
	a := &d.async
	a.mu.Lock()
	defer a.mu.Unlock()
	if d.noAsyncUpload || a.noPinned {
		// MOCOGO_CUDA_ASYNC_UPLOAD=0 or no page-locked memory: an upload
		// on the default stream, after the work queued so far.
		return dst.copyIn(p, n, "UploadAsync")
	}
	i := a.next
	st := &a.bufs[i]
	if slices.Contains(a.pending, i) {
		return fmt.Errorf("cuda: UploadAsync: all %d staging buffers hold transfers not yet awaited (call AwaitUploads between batches)", asyncStaging)
	}
	err := d.do(func() error {
		if !a.made {
			s, err := cu.MakeStream(cu.NonBlocking)
			if err != nil {
				return fmt.Errorf("cuStreamCreate: %w", err)
			}
			a.stream, a.made = s, true
		}
		// The transfer out of this buffer was awaited already.
		return st.reserve(n)
	})
	if errors.Is(err, errNoPinned) {
		a.noPinned = true
		return dst.copyIn(p, n, "UploadAsync")
	}
	if err != nil {
		return fmt.Errorf("cuda: UploadAsync (%d bytes): %w", n, err)
	}
	// The host copy runs outside the device lock: kernels keep being
	// queued meanwhile.
	parallelCopy(unsafe.Slice((*byte)(st.p), n), unsafe.Slice((*byte)(p), n))
	err = d.do(func() error {
		if a.fenced {
			if err := a.stream.Wait(a.fence, 0); err != nil {
				return fmt.Errorf("cuStreamWaitEvent: %w", err)
			}
		}
		if err := cu.MemcpyHtoDAsync(dst.ptr, st.p, n, a.stream); err != nil {
			return fmt.Errorf("cuMemcpyHtoDAsync: %w", err)
		}
		if err := st.done.Record(a.stream); err != nil {
			// The buffer's event is stale: the transfer must end before
			// reserve lets the host write the buffer again.
			if serr := a.stream.Synchronize(); serr != nil {
				return fmt.Errorf("cuEventRecord: %w (then cuStreamSynchronize: %v)", err, serr)
			}
			return fmt.Errorf("cuEventRecord: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cuda: UploadAsync (%d bytes): %w", n, err)
	}
	a.pending = append(a.pending, i)
	a.next = (i + 1) % asyncStaging
	return nil
}

// FenceUploads orders the transfers UploadAsync queues from now on behind
// the work queued on the default stream so far (a device-side wait: the
// host goes on at once). Call it on the goroutine that queues that work,
// once the destinations of the next uploads are allocated: the caching
// allocator may have handed back blocks that queued kernels still read or
// write, and the upload stream does not otherwise wait for them.
func (d *Device) FenceUploads() error {
	a := &d.async
	a.mu.Lock()
	defer a.mu.Unlock()
	if d.noAsyncUpload || a.noPinned {
		return nil // uploads run on the default stream
	}
	err := d.do(func() error {
		if !a.fenced {
			ev, err := cu.MakeEvent(cu.DisableTiming)
			if err != nil {
				return fmt.Errorf("cuEventCreate: %w", err)
			}
			a.fence = ev
		}
		if err := a.fence.Record(cu.Stream{}); err != nil {
			return fmt.Errorf("cuEventRecord: %w", err)
		}
		a.fenced = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("cuda: FenceUploads: %w", err)
	}
	return nil
}

// AwaitUploads makes the default stream wait, at its current end, for
// every transfer UploadAsync has queued: the kernels queued after it see
// the data. The host does not wait.
func (d *Device) AwaitUploads() error {
	a := &d.async
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) == 0 {
		return nil
	}
	err := d.do(func() error {
		for _, i := range a.pending {
			if err := (cu.Stream{}).Wait(a.bufs[i].done, 0); err != nil {
				return fmt.Errorf("cuStreamWaitEvent: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cuda: AwaitUploads: %w", err)
	}
	a.pending = a.pending[:0]
	return nil
}

// closeUploads frees the upload stream and staging buffers. Close calls
// it with the context current and the device idle; no UploadAsync may run
// then (it would take the locks in the other order).
func (d *Device) closeUploads() {
	a := &d.async
	for i := range a.bufs {
		a.bufs[i].release()
	}
	if a.made {
		a.stream.Destroy()
		a.made = false
	}
	if a.fenced {
		cu.DestroyEvent(&a.fence)
		a.fenced = false
	}
	a.pending = nil
}

// UploadAsync implements engine.AsyncUploader (Device.UploadAsync) for
// float32 storage.
func (b *Backend) UploadAsync(dst engine.Storage, src []float32) error {
	if isHalf(dst) {
		return fmt.Errorf("cuda: UploadAsync into %v storage (float32 only)", dst.DType())
	}
	n := min(len(src), dst.Len())
	if n == 0 {
		return nil
	}
	return b.d.UploadAsync(buf(dst), unsafe.Pointer(&src[0]), 4*int64(n))
}

// FenceUploads implements engine.AsyncUploader.
func (b *Backend) FenceUploads() error { return b.d.FenceUploads() }

// AwaitUploads implements engine.AsyncUploader.
func (b *Backend) AwaitUploads() error { return b.d.AwaitUploads() }
