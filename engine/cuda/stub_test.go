//go:build !cuda

package cuda

import (
	"errors"
	"testing"
)

func TestOpenWithoutCUDA(t *testing.T) {
	d, err := Open()
	if d != nil || !errors.Is(err, ErrNoCUDA) {
		t.Fatalf("Open() = %v, %v; want nil, ErrNoCUDA", d, err)
	}
}
