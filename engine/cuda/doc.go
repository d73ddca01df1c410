// Package cuda is mocogo's NVIDIA GPU backend: a device with its context, a
// caching allocator, host↔device copies, the embedded PTX kernels of package
// kernels loaded once per device, and Go wrappers for each kernel (GemmF16,
// GemmBF16, LayerNormForward, LayerNormBackward, ...), and Backend, which
// implements engine.Backend on a Device so that the engine's ops (and so the
// whole MoCo v3 step) run on the GPU: fp32 storage, fp16 tensor-core GEMMs
// and flash attention with fp32 accumulation, fp32 statistics. For autocast
// the Backend also holds fp16 and bf16 storages (engine.MixedPrecision): the
// element-wise, layout, LayerNorm, GEMM and attention methods take fp32,
// fp16 and bf16 operands in any mix (a dtype code per operand in the
// kernels, kernels/cuda/dtype.cuh); fp16 and bf16 GEMM and attention
// operands go to the tensor-core kernels of their type (GemmF16/GemmBF16,
// AttentionForward/AttentionForwardBF16 and their backward) with no cast
// pass. Its element-wise and reduction kernels are
// kernels/cuda/elementwise.cu and rowcol.cu. PeakProbes and PeakRun run the
// tensor-core peak-rate probes (kernels/cuda/peak.cu, peak_sm90a.cu): the
// ceilings of mma.sync and wgmma on the device at hand, for bench gpu;
// BulkLoadRun, on Hopper, how fast the TMA unit fills shared memory from
// L2 and from DRAM (peak_bw_sm90a.cu).
//
// Only this package imports gorgonia.org/cu, whose package initialisation
// calls cuInit and exits the process when no driver or device is present.
// Everything that touches it is therefore built only with the build tag
// cuda; without the tag Open returns ErrNoCUDA and the rest of mocogo
// builds and tests with CGO_ENABLED=0.
//
// Threading: a CUDA context is current per OS thread and Go moves
// goroutines between threads, so every driver call is made from a goroutine
// locked to its thread with the device's context made current first
// (Device.do). A Device may be used from several goroutines; calls are
// serialised. All work goes to the legacy default stream, so kernel launches
// and copies run in the order they are issued; copies to and from the host
// wait for the work before them.
package cuda

import "errors"

// ErrNoCUDA is returned by Open in binaries built without the cuda tag.
var ErrNoCUDA = errors.New("cuda: built without CUDA (rebuild with -tags cuda)")

// Dim3 is a grid or block shape.
type Dim3 struct{ X, Y, Z int }

// D1 returns the shape (x, 1, 1).
func D1(x int) Dim3 { return Dim3{x, 1, 1} }

// MemStats reports the caching allocator's state in bytes.
type MemStats struct {
	InUse  int64 // handed out and not yet freed (rounded sizes)
	Peak   int64 // largest InUse seen
	Cached int64 // freed, kept for reuse
	Allocs int64 // cuMemAlloc calls made
	Hits   int64 // Alloc calls served from the cache
}

// sizeClass rounds a request up to the size the allocator deals in: 512-byte
// steps below 1 MiB, 1 MiB steps above, so that repeated requests of one size
// (the same activation step after step) reuse one block.
func sizeClass(n int64) int64 {
	if n <= 0 {
		return 512
	}
	if n < 1<<20 {
		return (n + 511) &^ 511
	}
	return (n + 1<<20 - 1) &^ (1<<20 - 1)
}
