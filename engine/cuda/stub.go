//go:build !cuda

package cuda

// Device is a GPU; without the cuda build tag none can be opened.
type Device struct{}

// Open returns ErrNoCUDA: this binary was built without the cuda tag.
func Open() (*Device, error) { return nil, ErrNoCUDA }

// Close does nothing.
func (d *Device) Close() error { return nil }
