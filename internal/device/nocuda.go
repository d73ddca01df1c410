//go:build !cuda

package device

import (
	"fmt"
	"io"

	"github.com/mocogo/mocogo/engine"
)

// Open returns the compute backend named by --device and a function that
// releases it. This binary was built without the cuda tag.
func Open(device string) (engine.Backend, func(), error) {
	switch device {
	case "cpu":
		return engine.NewCPU(engine.F32), func() {}, nil
	case "cuda":
		return nil, nil, fmt.Errorf("--device cuda: this binary was built without CUDA (build it with -tags cuda; see scripts/gpu/build.sh)")
	}
	return nil, nil, fmt.Errorf("--device %q: want cpu or cuda", device)
}

// WarmKernels does nothing in a binary built without CUDA.
func WarmKernels(e *engine.Engine, w io.Writer) {}
