package main

import (
	"slices"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/moco/data"
)

// uploadAhead is the training loop's input on an engine: while a step
// trains on the current batch, a goroutine reads the next one from the
// loader and uploads its two views into kept tensors with
// Engine.UploadAsync. On the CUDA backend the transfer runs on a stream of
// its own, beside the step's kernels; on the CPU it is a plain copy made by
// that goroutine. Next returns the batch's description (Pos, N, Size,
// Labels, Indices: a copy, since the loader refills its batches once the
// next one is read) and Views its views in the engine.
//
// Position is the position of the batch the next Next returns, as for the
// loader, so that a checkpoint records the first batch not yet trained on
// although one more has been read.
type uploadAhead struct {
	e       *engine.Engine
	src     batchSource
	n, size int // the batches' images and their size, for the tensors made ahead

	next    chan ahead // the batch being read and uploaded, while running
	running bool
	pos     data.Position
	cur     [2]*engine.Tensor
	err     error
}

// ahead is a batch read ahead with its tensors: uploaded says whether its
// views are in them (not when the batch's shape was not the expected one),
// pos is the loader's position after it.
type ahead struct {
	b        *data.Batch
	x        [2]*engine.Tensor
	uploaded bool
	pos      data.Position
	err      error
}

// newUploadAhead starts reading and uploading the first batch of src,
// whose batches are expected to hold n images of size×size.
func newUploadAhead(e *engine.Engine, src batchSource, n, size int) *uploadAhead {
	u := &uploadAhead{e: e, src: src, n: n, size: size, pos: src.Position()}
	u.start()
	return u
}

// start makes the next batch's tensors (on this goroutine: the engine's
// allocator is not shared) and reads and uploads the batch on another.
func (u *uploadAhead) start() {
	var x [2]*engine.Tensor
	var err error
	for v := range x {
		if x[v], err = u.e.UploadTarget(u.n, 3, u.size, u.size); err != nil {
			break
		}
	}
	u.next = make(chan ahead, 1)
	u.running = true
	if err != nil {
		u.next <- ahead{x: x, err: err}
		return
	}
	go func() {
		b, err := u.src.Next()
		a := ahead{b: b, x: x, err: err}
		if err == nil {
			a.pos = u.src.Position()
			if b.N == u.n && b.Size == u.size && len(b.Views) == 2 {
				for v := range x {
					if a.err = u.e.UploadAsync(x[v], b.Views[v][:x[v].Len()]); a.err != nil {
						break
					}
				}
				a.uploaded = a.err == nil
			}
		}
		u.next <- a
	}()
}

// Next returns the batch read ahead, its views in Views, and starts on the
// one after; the previous batch's tensors go back to the allocator.
func (u *uploadAhead) Next() (*data.Batch, error) {
	if u.err != nil {
		return nil, u.err
	}
	a := <-u.next
	u.running = false
	// Every op from here on, the frees' reuse of the memory included, is
	// ordered behind the uploads (also a failed batch's first view).
	if err := u.e.AwaitUploads(); err != nil && a.err == nil {
		a.err = err
	}
	u.free()
	u.cur = a.x
	if a.err != nil {
		u.free()
		u.err = a.err
		return nil, a.err
	}
	if !a.uploaded {
		// A batch of another shape: its views are copied now, before the
		// loader may reuse its buffers.
		u.free()
		for v := range u.cur {
			u.cur[v] = u.e.FromFloat32(a.b.Views[v], a.b.N, 3, a.b.Size, a.b.Size).Keep()
		}
	}
	// The loader refills a.b once the next batch is read (start), while the
	// caller still trains on this one: it gets a copy of what it needs.
	b := &data.Batch{Pos: a.b.Pos, N: a.b.N, Size: a.b.Size, Labels: slices.Clone(a.b.Labels), Indices: slices.Clone(a.b.Indices)}
	u.pos = a.pos
	u.start()
	return b, nil
}

// Views are the current batch's two views in the engine, valid until the
// next call to Next or Close.
func (u *uploadAhead) Views() (x1, x2 *engine.Tensor) { return u.cur[0], u.cur[1] }

func (u *uploadAhead) Position() data.Position { return u.pos }

// Close stops the loader (ending a read in progress), waits for the
// goroutine and frees the tensors.
func (u *uploadAhead) Close() error {
	err := u.src.Close()
	if u.running {
		a := <-u.next
		u.running = false
		// A transfer still queued must not land in memory reused after this.
		if aerr := u.e.AwaitUploads(); aerr != nil && err == nil {
			err = aerr
		}
		for _, t := range a.x {
			if t != nil {
				t.Free()
			}
		}
	}
	u.free()
	return err
}

func (u *uploadAhead) free() {
	for v, t := range u.cur {
		if t != nil {
			t.Free()
			u.cur[v] = nil
		}
	}
}
