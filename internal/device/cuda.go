//go:build cuda

package device

import (
	"fmt"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/engine/cuda"
)

// Open returns the compute backend named by --device (cpu or cuda) and a
// function that releases it.
func Open(device string) (engine.Backend, func(), error) {
	switch device {
	case "cpu":
		return engine.NewCPU(engine.F32), func() {}, nil
	case "cuda":
		d, err := cuda.Open()
		if err != nil {
			return nil, nil, err
		}
		return cuda.NewBackend(d), func() { d.Close() }, nil
	}
	return nil, nil, fmt.Errorf("--device %q: want cpu or cuda", device)
}
