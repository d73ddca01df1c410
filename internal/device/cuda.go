//go:build cuda

package device

import (
	"fmt"
	"io"
	"time"

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

// WarmKernels has the driver compile, before the first step, the GPU
// kernel modules that a training step of e loads (cuda.Device's
// TrainingModules; for lincls's forward passes and probe, any module they
// need beyond those compiles when first used; under half-precision
// autocast only, on the CUDA backend only: otherwise it does nothing),
// several at once (Preload). On a machine whose driver has compiled them
// before this takes a fraction of a second; on one that has not, up to a minute or more (75-90 s on an
// H100 host when the modules, then holding both types' kernels, were
// compiled one after another; the split modules and the parallel loading
// have not yet been timed on a GPU), so after two seconds it says on w
// what is happening, and when it ends how long it took. A module that
// fails to load here is reported when a kernel of it is first used, as
// without the warm-up.
func WarmKernels(e *engine.Engine, w io.Writer) {
	b, ok := e.Backend().(*cuda.Backend)
	if !ok || e.Autocast() == engine.F32 {
		return
	}
	d := b.Device()
	begin := fmt.Sprintf("Compiling the GPU kernels for %s: the driver does this on a machine's first run (up to a minute or more) and keeps them for the next...", d.Name())
	announceIfSlow(w, 2*time.Second, begin, "GPU kernels compiled", func() {
		// (An error here is reported again where a kernel of the module is
		// first launched.)
		_ = d.Preload(d.TrainingModules(e.Autocast() == engine.BF16)...)
	})
}
