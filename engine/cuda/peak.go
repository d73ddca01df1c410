//go:build cuda

package cuda

import (
	"fmt"
	"unsafe"
)

// PeakProbe is one of the tensor-core peak-rate probes of
// kernels/cuda/peak.cu (mma.sync) and peak_sm90a.cu (wgmma): a loop of one
// tensor-core instruction on operands of 1.0 held in registers or shared
// memory, with no memory traffic, so that its rate is the ceiling any
// kernel built on that instruction can reach on the device at hand.
type PeakProbe struct {
	Name     string // result key stem: mma_sync_f16, wgmma_f16, wgmma_f16_wg1, ...
	Iters    int    // iterations for a timed run: about a millisecond on an H100
	module   string
	kernel   string
	threads  int     // block size
	perSM    int     // blocks per SM (enforced by the shared memory each asks)
	chains   int     // independent accumulators per thread, each of accum floats
	accum    int     // fp32 accumulators per chain and thread
	flopIter float64 // FLOPs a block does per loop iteration
	perIter  float32 // what each iteration adds to every accumulator
	smem     int     // shared memory the kernel itself uses
	one2     uint32  // a pair of 1.0 halves of the operand type
}

const (
	one2F16  = 0x3C003C00
	one2BF16 = 0x3F803F80
)

// PeakProbes returns the probes the device can run: mma.sync on fp16 and
// bf16 everywhere (fp16 also at 8 warps an SM, and fed from shared memory
// by ldmatrix, with and without the stores of a GEMM's copies); on sm_90, wgmma m64n256k16 on fp16 and bf16 with two
// consumer warpgroups per block, and on fp16 with one.
func (d *Device) PeakProbes() []PeakProbe {
	// mma.sync: 256 threads (8 warps) of 8 chains, each mma m16n8k16 (4096
	// FLOPs, adding 16 to each of its 4 accumulators a thread), 2 blocks an
	// SM: 4 warps and 32 chains on each sub-partition's tensor core.
	mma := func(name, kernel string, one2 uint32) PeakProbe {
		return PeakProbe{Name: name, Iters: 8192, module: "peak", kernel: kernel, threads: 256, perSM: 2,
			chains: 8, accum: 4, flopIter: 8 * 8 * 4096, perIter: 16, one2: one2}
	}
	// wgmma: each warpgroup 4 m64n256k16 an iteration (524288 FLOPs each,
	// adding 16 each to its 128 accumulators a thread), one block an SM.
	wgmma := func(name, kernel string, warpgroups int, one2 uint32) PeakProbe {
		return PeakProbe{Name: name, Iters: 2048, module: "peak_sm90a", kernel: kernel, threads: 128 * warpgroups, perSM: 1,
			chains: 1, accum: 128, flopIter: float64(warpgroups) * 4 * 524288, perIter: 4 * 16,
			smem: 64*128 + 256*128 + 1024, one2: one2}
	}
	// The same at one block an SM: 2 warps a sub-partition, as many as the
	// mma.sync GEMMs run (8 warps an SM).
	mma8w := mma("mma_sync_f16_8w", "peak_mma_f16", one2F16)
	mma8w.perSM = 1
	// mma.sync fed by ldmatrix from shared memory (peak.cu): 8 warps of
	// 64×64, one block an SM, 32 chains a thread; _fill also stores 64
	// bytes of shared memory per mma, the GEMM's cp.async traffic, without
	// bank conflicts; _fill4 stores them four-way conflicted, the pattern
	// the eleventh session measured (a control: peak.cu says why).
	ldsm := func(name, kernel string, smem int) PeakProbe {
		return PeakProbe{Name: name, Iters: 4096, module: "peak", kernel: kernel, threads: 256, perSM: 1,
			chains: 32, accum: 4, flopIter: 8 * 32 * 4096, perIter: 16, smem: smem, one2: one2F16}
	}
	ps := []PeakProbe{
		mma("mma_sync_f16", "peak_mma_f16", one2F16),
		mma("mma_sync_bf16", "peak_mma_bf16", one2BF16),
		mma8w,
		ldsm("mma_ldsm_f16", "peak_mma_ldsm_f16", 2*128*80),
		ldsm("mma_ldsm_fill_f16", "peak_mma_ldsm_fill_f16", 2*128*80+256*64),
		ldsm("mma_ldsm_fill4_f16", "peak_mma_ldsm_fill4_f16", 2*128*80+256*64),
	}
	if d.sm90() {
		ps = append(ps,
			wgmma("wgmma_f16", "peak_wgmma_f16", 2, one2F16),
			wgmma("wgmma_f16_wg1", "peak_wgmma_f16", 1, one2F16),
			wgmma("wgmma_bf16", "peak_wgmma_bf16", 2, one2BF16))
	}
	return ps
}

// PeakRun is a probe set up on a device for a given iteration count: its
// output buffer (every accumulator of every thread) and its clock records.
type PeakRun struct {
	d      *Device
	p      PeakProbe
	iters  int
	blocks int
	smem   int // shared memory asked per block: exactly perSM blocks fit on an SM
	out    *Buffer
	clocks *Buffer
}

// NewPeakRun allocates probe p's buffers for iters iterations on one wave
// of blocks (p's blocks per SM on every SM), the output poisoned with NaN.
// iters must keep the accumulators exact in fp32 (below 2^24).
func (d *Device) NewPeakRun(p PeakProbe, iters int) (*PeakRun, error) {
	if iters < 0 || float64(iters)*float64(p.perIter) >= 1<<24 {
		panic(fmt.Sprintf("cuda.NewPeakRun: %d iterations of %s: accumulators past 2^24 are not exact", iters, p.Name))
	}
	r := &PeakRun{d: d, p: p, iters: iters, blocks: p.perSM * d.sms}
	// Ask for enough shared memory that no more than perSM blocks fit on an
	// SM (the per-block limit is about an SM's share less 1 KB of the
	// system's reserve per block): with blocks = perSM·SMs every SM then
	// runs exactly perSM blocks, all at once.
	r.smem = max(p.smem, d.smem/p.perSM-1024)
	var err error
	if r.out, err = d.AllocF32(r.blocks * p.threads * p.chains * p.accum); err != nil {
		return nil, fmt.Errorf("cuda: peak probe %s: %w", p.Name, err)
	}
	if r.clocks, err = d.Alloc(int64(r.blocks) * 3 * 8); err != nil {
		r.out.Free()
		return nil, fmt.Errorf("cuda: peak probe %s: %w", p.Name, err)
	}
	if err := r.out.PoisonF32(); err != nil {
		r.Free()
		return nil, fmt.Errorf("cuda: peak probe %s: %w", p.Name, err)
	}
	if err := r.clocks.Fill32(0); err != nil {
		r.Free()
		return nil, fmt.Errorf("cuda: peak probe %s: %w", p.Name, err)
	}
	return r, nil
}

// Launch runs the probe once (asynchronously, on the default stream).
func (r *PeakRun) Launch() error {
	return r.d.Launch(r.p.module, r.p.kernel, D1(r.blocks), D1(r.p.threads), r.smem,
		r.out, r.clocks, int32(r.iters), r.p.one2)
}

// FLOPs is the floating-point operations of one run.
func (r *PeakRun) FLOPs() float64 { return float64(r.blocks) * float64(r.iters) * r.p.flopIter }

// Want is the value every accumulator holds after a run.
func (r *PeakRun) Want() float32 { return float32(r.iters) * r.p.perIter }

// Outputs returns every accumulator the last run wrote.
func (r *PeakRun) Outputs() ([]float32, error) {
	out := make([]float32, r.out.bytes/4)
	if err := r.out.CopyToF32(out); err != nil {
		return nil, fmt.Errorf("cuda: peak probe %s: %w", r.p.Name, err)
	}
	return out, nil
}

// Check reads the outputs back and reports an error unless every
// accumulator is exactly Want: a probe that did less work than it claims
// (or none) cannot pass.
func (r *PeakRun) Check() error {
	out, err := r.Outputs()
	if err != nil {
		return err
	}
	want, bad, first := r.Want(), 0, -1
	for i, v := range out {
		if v != want {
			if bad == 0 {
				first = i
			}
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("cuda: peak probe %s, %d iterations: %d of %d accumulators wrong (first: [%d] = %g, want %g)",
			r.p.Name, r.iters, bad, len(out), first, out[first], want)
	}
	return nil
}

// Stats reads the clock records of the last run.
func (r *PeakRun) Stats() (PeakStats, error) {
	rec := make([]int64, 3*r.blocks)
	if err := r.clocks.copyOut(unsafe.Pointer(&rec[0]), 8*int64(len(rec)), "peak clocks"); err != nil {
		return PeakStats{}, fmt.Errorf("cuda: peak probe %s: %w", r.p.Name, err)
	}
	return peakStats(rec, float64(r.iters)*r.p.flopIter), nil
}

// Blocks is the grid size: the probe's blocks per SM times the SMs.
func (r *PeakRun) Blocks() int { return r.blocks }

// Free releases the buffers.
func (r *PeakRun) Free() {
	r.out.Free()
	r.clocks.Free()
}
