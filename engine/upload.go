package engine

import "fmt"

// UploadTarget returns a kept tensor of the given shape for UploadAsync to
// fill. Its memory may come back from the allocator while ops enqueued
// earlier still use it on the device; the uploads into it wait for those
// ops (FenceUploads), not for the ones enqueued after it.
func (e *Engine) UploadTarget(shape ...int) (*Tensor, error) {
	t := e.Empty(shape...).Keep()
	if u, ok := e.b.(AsyncUploader); ok {
		if err := u.FenceUploads(); err != nil {
			t.Free()
			return nil, err
		}
	}
	return t, nil
}

// UploadAsync copies data into t, a kept tensor of the backend's own type
// whose length is len(data) made by UploadTarget, beside the device work
// already queued where the backend can (AsyncUploader), at once otherwise.
// It returns once data may change. Unlike every other method it may run on
// another goroutine than the engine's user, as long as nothing uses t
// until AwaitUploads has been called after it returned: an input pipeline
// uploads the next batch while the current step runs.
func (e *Engine) UploadAsync(t *Tensor, data []float32) error {
	switch {
	case !t.kept || t.view != nil || t.data == nil:
		return fmt.Errorf("engine: UploadAsync into %s: want a kept tensor with storage of its own", t.describe())
	case t.DType() != e.b.DType():
		return fmt.Errorf("engine: UploadAsync into %s: want the backend's %v", t.describe(), e.b.DType())
	case len(data) != t.Len():
		return fmt.Errorf("engine: UploadAsync of %d values into %s", len(data), t.describe())
	}
	if u, ok := e.b.(AsyncUploader); ok {
		return u.UploadAsync(t.data, data)
	}
	e.b.Upload32(t.data, data)
	return nil
}

// AwaitUploads orders every op that follows behind the uploads UploadAsync
// has started (a device-side wait: the host goes on at once).
func (e *Engine) AwaitUploads() error {
	if u, ok := e.b.(AsyncUploader); ok {
		return u.AwaitUploads()
	}
	return nil
}
