//go:build cuda

package cuda

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/mocogo/mocogo/engine"
)

// Backend is engine.Backend on a GPU: fp32 storage on the device (master
// weights, activations, gradients), GEMMs on the tensor cores with
// operands cast to fp16 and fp32 accumulation and output, attention by
// the fp16 (or, for bf16 qkv, bf16) flash kernels for head dims 32 and 64
// (a plain fp32 kernel otherwise), and every statistic (LayerNorm, BatchNorm, softmax, the loss)
// in fp32. All work goes to the device's stream in order; Download is the
// only point that waits for it.
//
// It also implements engine.MixedPrecision (fp16 and bf16 storages beside
// fp32 ones, for autocast: the methods that list take any of the three in
// any mix; fp16 and bf16 GEMM and attention operands are used as they are,
// with no cast pass: see Gemm and Attention),
// engine.BiasGemm (GemmBias: bias and GELU in the GEMM's epilogue),
// engine.SquareSummer, engine.SquareSummerAll and engine.MultiUpdater.
//
// Methods panic on a driver error: the Backend interface has no error
// results, and a failed launch means the device is unusable.
type Backend struct {
	d *Device

	mu         sync.Mutex
	tables     []segTable // the multi-tensor kernels' tables on the device, newest last
	tableStats TableStats
}

// TableStats counts the multi-tensor kernels' tables (SumSquaresAll,
// EMAAll, ScaleAll, AdamWMulti): found among those already on the device, or uploaded
// (each upload a host-to-device copy, ordered after the work queued
// before it).
type TableStats struct{ Hits, Uploads int }

// TableStats returns the counts of table lookups so far.
func (b *Backend) TableStats() TableStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tableStats
}

// NewBackend returns a backend computing on d.
func NewBackend(d *Device) *Backend { return &Backend{d: d} }

// Device returns the backend's device.
func (b *Backend) Device() *Device { return b.d }

// storage is a device buffer of n values of type dt (engine.F32,
// engine.F16 or engine.BF16).
type storage struct {
	buf *Buffer
	n   int
	dt  engine.DType
}

func (s *storage) Len() int            { return s.n }
func (s *storage) DType() engine.DType { return s.dt }

// Buffer returns the device buffer behind a storage made by a Backend.
func StorageBuffer(s engine.Storage) *Buffer { return buf(s) }

func buf(s engine.Storage) *Buffer {
	if s == nil {
		return nil
	}
	st, ok := s.(*storage)
	if !ok {
		panic(fmt.Sprintf("cuda.Backend: storage %T is not from a CUDA backend", s))
	}
	if st.buf == nil || st.buf.ptr == 0 {
		panic("cuda.Backend: storage used after Release")
	}
	return st.buf
}

// The element-type codes the kernels take (kernels/cuda/dtype.cuh):
// engine.DType's own values.
const (
	dtF32  = int32(engine.F32)
	dtF16  = int32(engine.F16)
	dtBF16 = int32(engine.BF16)
)

// dtype.cuh hard-codes DT_F32 0, DT_F16 2 and DT_BF16 3: these fail to
// compile if engine.DType is ever renumbered.
var (
	_ [0]struct{} = [dtF32]struct{}{}
	_ [2]struct{} = [dtF16]struct{}{}
	_ [3]struct{} = [dtBF16]struct{}{}
)

// dt is the kernels' element-type code of s (fp32 for nil).
func dt(s engine.Storage) int32 {
	if s == nil {
		return dtF32
	}
	return int32(s.DType())
}

func isF16(s engine.Storage) bool { return s != nil && s.DType() == engine.F16 }

// isHalf reports whether s holds fp16 or bf16.
func isHalf(s engine.Storage) bool { return s != nil && s.DType() != engine.F32 }

// f32 is buf for the operands that must be float32 (statistics, biases,
// optimizer state, and every operand of the methods engine.MixedPrecision
// does not list); nil stays nil.
func f32(op string, s engine.Storage) *Buffer {
	if s != nil && s.DType() != engine.F32 {
		panic(fmt.Sprintf("cuda.Backend.%s: a %v storage where float32 is required", op, s.DType()))
	}
	return buf(s)
}

func try(op string, err error) {
	if err != nil {
		panic(fmt.Sprintf("cuda.Backend.%s: %v", op, err))
	}
}

func (b *Backend) Name() string        { return "cuda-f32 (" + b.d.Name() + ")" }
func (b *Backend) DType() engine.DType { return engine.F32 }

func (b *Backend) Alloc(n int) engine.Storage {
	bf, err := b.d.AllocF32(n)
	try("Alloc", err)
	return &storage{buf: bf, n: n, dt: engine.F32}
}

// HalfTypes implements engine.MixedPrecision: fp16 and bf16. Every method
// the contract lists takes both: bf16 GEMMs and attention run on bf16
// tensor-core kernels, fp16 ones on fp16 kernels.
func (b *Backend) HalfTypes() []engine.DType { return []engine.DType{engine.F16, engine.BF16} }

// AllocAs implements engine.MixedPrecision: n values of float32, fp16 or
// bf16 (2n bytes for the halves).
func (b *Backend) AllocAs(t engine.DType, n int) engine.Storage {
	switch t {
	case engine.F32:
		return b.Alloc(n)
	case engine.F16, engine.BF16:
		bf, err := b.d.AllocF16(n) // 2n bytes, whatever the 16-bit type
		try("AllocAs", err)
		return &storage{buf: bf, n: n, dt: t}
	}
	panic(fmt.Sprintf("cuda.Backend.AllocAs: %v storage (the backend has f32, f16 and bf16)", t))
}

func (b *Backend) Release(s engine.Storage) {
	if s == nil {
		return
	}
	st := s.(*storage)
	if st.buf != nil {
		st.buf.Free()
		st.buf = nil
	}
}

func (b *Backend) PeakBytes() int64 { return b.d.MemStats().Peak }

func (b *Backend) Upload(dst engine.Storage, src []float64) {
	f := make([]float32, len(src))
	for i, v := range src {
		f[i] = float32(v)
	}
	b.Upload32(dst, f)
}

// Upload32 copies src into dst; an fp16 or bf16 dst is converted on the
// device (through an fp32 scratch buffer, rounding to nearest even).
func (b *Backend) Upload32(dst engine.Storage, src []float32) {
	if !isHalf(dst) {
		try("Upload", buf(dst).CopyFromF32(src))
		return
	}
	n := min(len(src), dst.Len())
	if n == 0 {
		return
	}
	tmp := b.scratch(4 * int64(n))
	defer tmp.Free()
	try("Upload", tmp.CopyFromF32(src[:n]))
	b.ew("ew_convert", n, buf(dst), dt(dst), tmp, dtF32, (*Buffer)(nil), int64(n))
}

func (b *Backend) Download(dst []float64, src engine.Storage) {
	f := make([]float32, len(dst))
	b.Download32(f, src)
	for i, v := range f {
		dst[i] = float64(v)
	}
}

// Download32 copies src into dst; an fp16 or bf16 src is widened on the
// device first (exact).
func (b *Backend) Download32(dst []float32, src engine.Storage) {
	if !isHalf(src) {
		try("Download", buf(src).CopyToF32(dst))
		return
	}
	n := min(len(dst), src.Len())
	if n == 0 {
		return
	}
	tmp := b.scratch(4 * int64(n))
	defer tmp.Free()
	b.ew("ew_convert", n, tmp, dtF32, buf(src), dt(src), (*Buffer)(nil), int64(n))
	try("Download", tmp.CopyToF32(dst[:n]))
}

// scratch returns a temporary device buffer of bytes; the caller frees it
// (the stream orders its reuse after the kernels that use it).
func (b *Backend) scratch(bytes int64) *Buffer {
	bf, err := b.d.Alloc(bytes)
	try("scratch", err)
	return bf
}

// grid1 is the grid for an element-wise kernel over n elements, four per
// thread, at most a few waves (the kernels grid-stride).
func (b *Backend) grid1(n int) Dim3 {
	g := (n/4 + 255) / 256
	if g < 1 {
		g = 1
	}
	if lim := 8 * b.d.sms; g > lim {
		g = lim
	}
	return D1(g)
}

func (b *Backend) ew(kernel string, n int, args ...any) {
	if n == 0 {
		return
	}
	try(kernel, b.d.Launch("elementwise", kernel, b.grid1(n), D1(256), 0, args...))
}

func (b *Backend) rc(kernel string, grid, block Dim3, smem int, args ...any) {
	try(kernel, b.d.Launch("rowcol", kernel, grid, block, smem, args...))
}

func (b *Backend) Fill(dst engine.Storage, v float64) {
	n := dst.Len()
	b.ew("ew_fill", n, buf(dst), dt(dst), float32(v), int64(n))
}

// Copy copies the first min(dst.Len(), src.Len()) values, converting
// between fp32, fp16 and bf16 when the types differ (through fp32, rounding
// to nearest even: bf16 to fp16 overflows to ±Inf past 65504).
func (b *Backend) Copy(dst, src engine.Storage) {
	n := min(dst.Len(), src.Len())
	if n == 0 {
		return
	}
	if dst.DType() != src.DType() {
		b.ew("ew_convert", n, buf(dst), dt(dst), buf(src), dt(src), (*Buffer)(nil), int64(n))
		return
	}
	try("Copy", buf(dst).CopyFrom(buf(src), int64(dst.DType().Size())*int64(n)))
}

func (b *Backend) Axpy(dst engine.Storage, alpha float64, x engine.Storage) {
	n := x.Len()
	b.ew("ew_axpy", n, buf(dst), dt(dst), float32(alpha), buf(x), dt(x), int64(n))
}

func (b *Backend) Scale(dst, src engine.Storage, alpha float64) {
	n := src.Len()
	b.ew("ew_scale", n, buf(dst), dt(dst), buf(src), dt(src), float32(alpha), int64(n))
}

func (b *Backend) Binary(op engine.BinaryOp, dst, a, bb engine.Storage) {
	n, nb := a.Len(), bb.Len()
	if nb == 0 {
		return
	}
	b.ew("ew_binary", n, int32(op), buf(dst), dt(dst), buf(a), dt(a), buf(bb), dt(bb), int64(n), int64(nb))
}

// SumRows takes an fp32, fp16 or bf16 src; dst is fp32.
func (b *Backend) SumRows(dst, src engine.Storage, rows, cols int, beta float64) {
	if cols == 0 {
		return
	}
	if cols%4 == 0 && buf(src).ptr%16 == 0 {
		b.sumRowsVec(f32("SumRows", dst), buf(src), dt(src), rows, cols, beta)
		return
	}
	cb := (cols + 31) / 32
	parts := (rows + 63) / 64
	if want := (2*b.d.sms + cb - 1) / cb; parts > want {
		parts = want
	}
	parts = max(parts, 1)
	chunk := (rows + parts - 1) / parts
	chunk = max((chunk+7)&^7, 8)
	parts = max((rows+chunk-1)/chunk, 1)
	db := f32("SumRows", dst)
	if parts == 1 {
		b.rc("sum_rows_part", Dim3{cb, 1, 1}, Dim3{32, 8, 1}, 0, db, nil, buf(src), dt(src), int32(rows), int32(cols), int32(chunk), float32(beta))
		return
	}
	part := b.scratch(4 * int64(parts*cols))
	defer part.Free()
	b.rc("sum_rows_part", Dim3{cb, parts, 1}, Dim3{32, 8, 1}, 0, db, part, buf(src), dt(src), int32(rows), int32(cols), int32(chunk), float32(beta))
	b.rc("sum_rows_final", D1((cols+255)/256), D1(256), 0, db, part, int32(parts), int32(cols), float32(beta))
}

// sumRowsVec is SumRows by sum_rows_vec (cols a multiple of 4, src 16-byte
// aligned): the rows split into chunks of a multiple of 8 so that about four
// blocks of 256 threads run per SM (at most one chunk per 64 rows), the
// chunks' partial sums folded by sum_rows_vec over the partials. Every sum
// is in a fixed order: the result depends only on the device's SM count.
func (b *Backend) sumRowsVec(dst, src *Buffer, st int32, rows, cols int, beta float64) {
	cb := (cols + 127) / 128
	parts := min((rows+63)/64, (4*b.d.sms+cb-1)/cb)
	parts = max(parts, 1)
	chunk := (rows + parts - 1) / parts
	chunk = max((chunk+7)&^7, 8)
	parts = max((rows+chunk-1)/chunk, 1)
	if parts == 1 {
		b.rc("sum_rows_vec", Dim3{cb, 1, 1}, Dim3{32, 8, 1}, 0, dst, nil, src, st, int32(rows), int32(cols), int32(chunk), float32(beta))
		return
	}
	part := b.scratch(4 * int64(parts*cols))
	defer part.Free()
	b.rc("sum_rows_vec", Dim3{cb, parts, 1}, Dim3{32, 8, 1}, 0, dst, part, src, st, int32(rows), int32(cols), int32(chunk), float32(beta))
	b.rc("sum_rows_vec", Dim3{cb, 1, 1}, Dim3{32, 8, 1}, 0, dst, nil, part, dtF32, int32(parts), int32(cols), int32(parts), float32(beta))
}

// sumInto sets dst[0] = scale·Σ src[0..n) in two deterministic stages.
func (b *Backend) sumInto(dst, src *Buffer, n int, scale float32) {
	g := (n/4 + 255) / 256
	g = max(min(g, 2*b.d.sms), 1)
	part := b.scratch(4 * int64(g))
	defer part.Free()
	b.rc("sum_all_part", D1(g), D1(256), 0, part, src, int64(n))
	b.rc("sum_final", D1(1), D1(256), 0, dst, part, int32(g), scale)
}

func (b *Backend) SumAll(dst, src engine.Storage) {
	b.sumInto(f32("SumAll", dst), f32("SumAll", src), src.Len(), 1)
}

// SumSquares implements engine.SquareSummer: dst[0] = Σ src[i]² (plus
// dst[0] when accumulate), src fp32, fp16 or bf16, squares and sums in fp64, in a
// fixed order for a given device (deterministic), stored rounded to dst's
// type.
func (b *Backend) SumSquares(dst, src engine.Storage, accumulate bool) {
	n := src.Len()
	g := max(min((n/4+255)/256, 2*b.d.sms), 1)
	part := b.scratch(8 * int64(g))
	defer part.Free()
	b.rc("sumsq_part", D1(g), D1(256), 0, part, buf(src), dt(src), int64(n))
	b.rc("sumsq_final", D1(1), D1(256), 0, buf(dst), dt(dst), part, int32(g), accumulate)
}

// sumsqSegElems is the length of a segment of sumsq_multi: 256 threads,
// sixteen 4-element loads each.
const sumsqSegElems = 16384

// segTable is a segment table for sumsq_multi as uploaded: its bytes and
// the device buffer holding them.
type segTable struct {
	bytes []byte
	buf   *Buffer
}

// SumSquaresAll implements engine.SquareSummerAll: each source is cut into
// segments of sumsqSegElems elements, listed in a table (pointer, offset,
// length, type: 32 bytes each) that sumsq_multi reads, a block a segment;
// sumsq_final sums the blocks' parts into dst. The table is uploaded only
// when it differs from the last few (the caching allocator tends to hand a
// step's gradients the same blocks every step). Sources not 16-byte aligned
// are summed by SumSquares after the others (which, as every kernel here,
// needs fp32 sources 16-byte and half ones 8-byte aligned: whole
// allocations always are). Deterministic for a given list.
func (b *Backend) SumSquaresAll(dst engine.Storage, srcs []engine.Storage, accumulate bool) {
	var tab []byte
	var rest []engine.Storage
	for _, s := range srcs {
		n, p := s.Len(), buf(s)
		if n == 0 {
			continue
		}
		if p.ptr%16 != 0 {
			rest = append(rest, s)
			continue
		}
		for off := 0; off < n; off += sumsqSegElems {
			tab = binary.LittleEndian.AppendUint64(tab, uint64(p.ptr))
			tab = binary.LittleEndian.AppendUint64(tab, uint64(off))
			tab = binary.LittleEndian.AppendUint64(tab, uint64(min(sumsqSegElems, n-off)))
			tab = binary.LittleEndian.AppendUint32(tab, uint32(dt(s)))
			tab = binary.LittleEndian.AppendUint32(tab, 0)
		}
	}
	switch segs := len(tab) / 32; {
	case segs > 0:
		part := b.scratch(8 * int64(segs))
		defer part.Free()
		b.rc("sumsq_multi", D1(segs), D1(256), 0, part, b.segTable(tab))
		b.rc("sumsq_final", D1(1), D1(256), 0, buf(dst), dt(dst), part, int32(segs), accumulate)
	case !accumulate && len(rest) == 0:
		b.Fill(dst, 0)
	}
	for i, s := range rest {
		b.SumSquares(dst, s, accumulate || len(tab) > 0 || i > 0)
	}
}

// segTable returns a device buffer holding tab, one of the last sixteen
// uploaded when it is the same (a MoCo v3 step uses seven: its norms, the
// momentum update, the unscale, AdamW).
func (b *Backend) segTable(tab []byte) *Buffer {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, t := range b.tables {
		if bytes.Equal(t.bytes, tab) {
			b.tables = append(append(b.tables[:i:i], b.tables[i+1:]...), t) // the newest last
			b.tableStats.Hits++
			return t.buf
		}
	}
	if len(b.tables) == 16 {
		// The oldest goes back to the allocator; launches queued before
		// that read it run before anything queued after reuses it.
		b.tables[0].buf.Free()
		b.tables = b.tables[1:]
	}
	d := b.scratch(int64(len(tab)))
	try("SumSquaresAll", d.copyIn(unsafe.Pointer(&tab[0]), int64(len(tab)), "SumSquaresAll table"))
	b.tables = append(b.tables, segTable{slices.Clone(tab), d})
	b.tableStats.Uploads++
	return d
}

func (b *Backend) BroadcastScalar(dst, s engine.Storage, alpha float64) {
	n := dst.Len()
	b.ew("ew_broadcast", n, f32("BroadcastScalar", dst), f32("BroadcastScalar", s), float32(alpha), int64(n))
}

// toF16 returns an fp16 copy of the first n values of src (caller frees).
func (b *Backend) toF16(src *Buffer, n int) *Buffer {
	h := b.scratch(2 * int64(max(n, 1)))
	b.ew("cast_f32_f16", n, h, src, int64(n))
	return h
}

// fromF16 writes n fp16 values of src into dst as fp32.
func (b *Backend) fromF16(dst, src *Buffer, n int) {
	b.ew("cast_f16_f32", n, dst, src, int64(n))
}

// half returns the first n values of s as fp16: s's own buffer when it is
// fp16, else a cast copy (from bf16: values past ±65504 become ±Inf); free
// releases what half allocated.
func (b *Backend) half(s engine.Storage, n int) (h *Buffer, free func()) {
	if isF16(s) {
		return buf(s), func() {}
	}
	if s.DType() == engine.BF16 {
		h = b.scratch(2 * int64(max(n, 1)))
		b.ew("ew_convert", n, h, dtF16, buf(s), dtBF16, (*Buffer)(nil), int64(n))
		return h, h.Free
	}
	h = b.toF16(buf(s), n)
	return h, h.Free
}

// bf16 returns the first n values of s as bf16: s's own buffer when it is
// bf16, else a converted copy (rounded to nearest even; bf16 has fp32's
// exponent range, so nothing overflows); free releases what bf16
// allocated.
func (b *Backend) bf16(s engine.Storage, n int) (h *Buffer, free func()) {
	if s.DType() == engine.BF16 {
		return buf(s), func() {}
	}
	h = b.scratch(2 * int64(max(n, 1)))
	b.ew("ew_convert", n, h, dtBF16, buf(s), dt(s), (*Buffer)(nil), int64(n))
	return h, h.Free
}

// fromF16Into writes n fp16 values of src into s, fp32 or bf16 (rounded to
// nearest even).
func (b *Backend) fromF16Into(s engine.Storage, src *Buffer, n int) {
	if s.DType() == engine.F32 {
		b.fromF16(buf(s), src, n)
		return
	}
	b.ew("ew_convert", n, buf(s), dt(s), src, dtF16, (*Buffer)(nil), int64(n))
}

// f32In returns the first n values of s as fp32: s's own buffer when it is
// fp32, else a widened copy; free releases what f32In allocated.
func (b *Backend) f32In(s engine.Storage, n int) (f *Buffer, free func()) {
	if !isHalf(s) {
		return buf(s), func() {}
	}
	f = b.scratch(4 * int64(max(n, 1)))
	b.ew("ew_convert", n, f, dtF32, buf(s), dt(s), (*Buffer)(nil), int64(n))
	return f, f.Free
}

// f32Out returns an fp32 buffer for n results bound for s: s's own buffer
// when it is fp32, else a scratch buffer that commit rounds into s (and
// frees). Call commit after the kernels that write the buffer.
func (b *Backend) f32Out(s engine.Storage, n int) (f *Buffer, commit func()) {
	if !isHalf(s) {
		return buf(s), func() {}
	}
	f = b.scratch(4 * int64(max(n, 1)))
	return f, func() {
		b.ew("ew_convert", n, buf(s), dt(s), f, dtF32, (*Buffer)(nil), int64(n))
		f.Free()
	}
}

// fp16 scale targets: an operand is scaled by a power of two so that its
// largest magnitude is just under 2^target before it is cast to fp16.
const (
	gemmScaleExp = 15 // GEMM operands: fp16's whole range (max 65504)
	attnScaleExp = 8  // the attention output gradient: headroom for dq, dk, dv
)

// scaledF16 returns an fp16 copy of the first n values of src multiplied by
// a power of two chosen on the device (no host round trip) and the scale
// pair [s, 1/s] (caller frees both): gradients, far below fp16's normal
// range, keep their precision (what a loss scaler does, per tensor).
func (b *Backend) scaledF16(src *Buffer, n int, target int) (h, sc *Buffer) {
	g := max(min((n/4+255)/256, 2*b.d.sms), 1)
	part := b.scratch(4 * int64(g))
	defer part.Free()
	sc = b.scratch(8)
	b.rc("amax_part", D1(g), D1(256), 0, part, src, int64(n))
	b.rc("amax_final", D1(1), D1(256), 0, sc, part, int32(g), int32(target))
	h = b.scratch(2 * int64(max(n, 1)))
	b.ew("cast_f32_f16_s", n, h, src, sc, int64(n))
	return h, sc
}

// gemmType is the half type a GEMM on operands of types ta and tb runs in:
// bf16 when either is bf16 (an fp16 or fp32 partner is converted to bf16,
// which has fp32's range: nothing overflows), else fp16 (fp32 operands
// scaled into fp16's range by gemmOperand).
func gemmType(ta, tb engine.DType) engine.DType {
	if ta == engine.BF16 || tb == engine.BF16 {
		return engine.BF16
	}
	return engine.F16
}

// gemmOperand returns the first n values of x as type ht (engine.F16 or
// engine.BF16) for the GEMM: a storage of that type as it is (sc nil: no
// scale); for fp16, an fp32 one cast by scaledF16 (sc its scale pair); for
// bf16, an fp32 or fp16 one converted as it is (sc nil: bf16 has fp32's
// exponent range). free releases what gemmOperand allocated.
func (b *Backend) gemmOperand(x engine.Storage, n int, ht engine.DType) (h, sc *Buffer, free func()) {
	if x.DType() == ht {
		return buf(x), nil, func() {}
	}
	if ht == engine.BF16 {
		h = b.scratch(2 * int64(max(n, 1)))
		b.ew("ew_convert", n, h, dtBF16, buf(x), dt(x), (*Buffer)(nil), int64(n))
		return h, nil, h.Free
	}
	h, sc = b.scaledF16(buf(x), n, gemmScaleExp)
	return h, sc, func() { h.Free(); sc.Free() }
}

// gemmHalf runs GemmF16 (ht engine.F16) or GemmBF16 (engine.BF16); outHalf
// stores C in ht.
func (b *Backend) gemmHalf(ht engine.DType, transA, transB bool, m, n, k int, alpha float32, a *Buffer, lda int, bb *Buffer, ldb int, beta float32, c *Buffer, ldc int, bias *Buffer, gelu, outHalf bool) error {
	if ht == engine.BF16 {
		return b.d.GemmBF16(transA, transB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc, Epilogue{Bias: bias, GELU: gelu, OutBF16: outHalf})
	}
	return b.d.GemmF16(transA, transB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc, Epilogue{Bias: bias, GELU: gelu, OutF16: outHalf})
}

// Gemm runs the fp16 or bf16 tensor-core GEMM (fp32 accumulation) per
// product, in the type gemmType picks: bf16 when an operand is bf16, else
// fp16. An operand of that type is used as it is. For fp16, an fp32 operand
// is cast to fp16 once, scaled by its own power of two, and the scales are
// divided out of an fp32 product afterwards; for bf16, an fp32 or fp16
// operand is converted to bf16 once (no scale). C may be fp32, fp16 or
// bf16: when C is fp32 or of the GEMM's type and no operand was scaled, the
// product goes straight into C through the epilogue (alpha, beta,
// rounding); otherwise, and when a half C sums a batch (strideC 0), the
// products are formed in fp32 and brought into C once. strideC 0 with
// batch > 1 sums the products into C (C = alpha·Σ op(A_i)·op(B_i) + beta·C).
func (b *Backend) Gemm(transA, transB bool, batch, m, n, k int, alpha float64, a engine.Storage, strideA int, bs engine.Storage, strideB int, beta float64, c engine.Storage, strideC int) {
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	cb, ct := buf(c), dt(c)
	ce := int64(c.DType().Size())
	mn := m * n
	if batch > 1 && strideC%4 != 0 {
		// The GEMM's epilogue stores pairs (of floats or halves) and the
		// element-wise kernels run on C (unscale2, the k = 0 fill) load four
		// at a time: each C must start 16-byte (halves: 8-byte) aligned. Run
		// on a copy of C whose stride is a multiple of 4.
		pad := (strideC + 3) &^ 3
		tmp := b.scratch(ce * int64(batch*pad))
		defer tmp.Free()
		if beta != 0 {
			b.copyAxis(tmp, ct, pad, cb, ct, strideC, batch, mn)
		}
		ts := &storage{buf: tmp, n: batch * pad, dt: c.DType()}
		b.Gemm(transA, transB, batch, m, n, k, alpha, a, strideA, bs, strideB, beta, ts, pad)
		b.copyAxis(cb, ct, strideC, tmp, ct, pad, batch, mn)
		return
	}
	if k == 0 { // no product: C = beta·C
		for i := 0; i < batch; i++ {
			if strideC == 0 && i > 0 {
				break
			}
			cv := cb.View(ce*int64(i*strideC), ce*int64(mn))
			if beta == 0 {
				b.ew("ew_fill", mn, cv, ct, float32(0), int64(mn))
			} else {
				b.ew("ew_scale", mn, cv, ct, cv, ct, float32(beta), int64(mn))
			}
		}
		return
	}
	sizeA, sizeB := m*k, k*n
	na := (batch-1)*strideA + sizeA
	nb := (batch-1)*strideB + sizeB
	ht := gemmType(a.DType(), bs.DType())
	// The operands in ht, cast (and scaled) from the caller's storage as it
	// is: a scale taken after restriding would also see the padding.
	ha, sa, freeA := b.gemmOperand(a, na, ht)
	defer freeA()
	hb, sb, freeB := b.gemmOperand(bs, nb, ht)
	defer freeB()
	if batch > 1 {
		// Each product's half operands must start 16-byte aligned for the
		// GEMM (the kernels load at least pairs): restride odd strides.
		var freeA, freeB func()
		ha, strideA, freeA = b.restride(ha, int32(ht), strideA, sizeA, batch)
		defer freeA()
		hb, strideB, freeB = b.restride(hb, int32(ht), strideB, sizeB, batch)
		defer freeB()
	}
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	cview := func(i int) *Buffer { return cb.View(ce*int64(i*strideC), ce*int64(mn)) }
	if sa == nil && sb == nil && (ct == dtF32 || ct == int32(ht)) && !(ct != dtF32 && strideC == 0 && batch > 1) {
		// Half operands, C fp32 or of their type: straight into C.
		for i := 0; i < batch; i++ {
			av := ha.View(2*int64(i*strideA), 2*int64(sizeA))
			bv := hb.View(2*int64(i*strideB), 2*int64(sizeB))
			be := float32(beta)
			if strideC == 0 && i > 0 {
				be = 1 // accumulate the batch
			}
			try("Gemm", b.gemmHalf(ht, transA, transB, m, n, k, float32(alpha), av, lda, bv, ldb, be, cview(i), n, nil, false, ct != dtF32))
		}
		return
	}
	// fp32 products: into a temporary when beta ≠ 0 or C is a half, then
	// C = product/scales + beta·C; with beta = 0 and an fp32 C straight into
	// C and unscaled in place.
	var tmp *Buffer
	if beta != 0 || ct != dtF32 {
		tmp = b.scratch(4 * int64(mn))
		defer tmp.Free()
	}
	for i := 0; i < batch; i++ {
		av := ha.View(2*int64(i*strideA), 2*int64(sizeA))
		bv := hb.View(2*int64(i*strideB), 2*int64(sizeB))
		cv := cview(i)
		dst := cv
		if tmp != nil {
			dst = tmp
		}
		var be float32
		if strideC == 0 && i > 0 {
			be = 1 // accumulate the batch
		}
		try("Gemm", b.gemmHalf(ht, transA, transB, m, n, k, float32(alpha), av, lda, bv, ldb, be, dst, n, nil, false, false))
		if strideC != 0 || i == batch-1 {
			b.ew("unscale2", mn, cv, ct, dst, sa, sb, float32(beta), int64(mn))
		}
	}
}

// GemmBias implements engine.BiasGemm: C = op(A)·op(B) + bias, then GELU
// when gelu is set; bias is n float32 values (or nil). With A and B both
// fp16 or both bf16, and C fp32 or of their type, it is one GEMM with bias,
// GELU and C's type in the epilogue; otherwise the product is formed in
// fp32 by Gemm and bias and GELU follow in fp32 (one rounding into a half
// C).
func (b *Backend) GemmBias(transA, transB bool, m, n, k int, a, bs, bias, c engine.Storage, gelu bool) {
	if m == 0 || n == 0 {
		return
	}
	bb := f32("GemmBias", bias)
	if ht := a.DType(); ht != engine.F32 && bs.DType() == ht && (c.DType() == engine.F32 || c.DType() == ht) && k > 0 {
		lda, ldb := k, n
		if transA {
			lda = m
		}
		if transB {
			ldb = k
		}
		try("GemmBias", b.gemmHalf(ht, transA, transB, m, n, k, 1, buf(a), lda, buf(bs), ldb, 0, buf(c), n, bb, gelu, isHalf(c)))
		return
	}
	t := c
	if isHalf(c) {
		tmp := b.scratch(4 * int64(m*n))
		defer tmp.Free()
		t = &storage{buf: tmp, n: m * n, dt: engine.F32}
	}
	b.Gemm(transA, transB, 1, m, n, k, 1, a, 0, bs, 0, 0, t, 0)
	switch {
	case gelu && bias != nil:
		b.Binary(engine.OpAdd, t, t, bias)
		b.Unary(engine.OpGELU, c, t)
	case gelu:
		b.Unary(engine.OpGELU, c, t)
	case bias != nil:
		b.Binary(engine.OpAdd, c, t, bias)
	case t != c:
		b.Copy(c, t)
	}
}

// GemmBiasResidual implements engine.ResidualGemm: C = op(A)·op(B) + bias
// + R. Where SetGemmResidual is on and the product suits the ping-pong
// kernels with the residual in their epilogue (A and B of one half type, C
// and R of one type, fp32 or that half type; Device.residualRoute), it is
// one GEMM reading R beside the product; otherwise GemmBias, then Axpy(C,
// 1, R), the two passes LinearAdd always made before.
func (b *Backend) GemmBiasResidual(transA, transB bool, m, n, k int, a, bs, bias, r, c engine.Storage) {
	if m == 0 || n == 0 {
		return
	}
	if ht := a.DType(); ht != engine.F32 && bs.DType() == ht && (c.DType() == engine.F32 || c.DType() == ht) && r.DType() == c.DType() {
		lda, ldb := k, n
		if transA {
			lda = m
		}
		if transB {
			ldb = k
		}
		if _, _, ok := b.d.residualRoute(ht == engine.BF16, transA, transB, m, n, k, buf(a), lda, buf(bs), ldb, buf(c), n, buf(r), false, isHalf(c)); ok {
			ep := Epilogue{Bias: f32("GemmBiasResidual", bias), Residual: buf(r)}
			var err error
			if ht == engine.BF16 {
				ep.OutBF16 = isHalf(c)
				err = b.d.GemmBF16(transA, transB, m, n, k, 1, buf(a), lda, buf(bs), ldb, 0, buf(c), n, ep)
			} else {
				ep.OutF16 = isHalf(c)
				err = b.d.GemmF16(transA, transB, m, n, k, 1, buf(a), lda, buf(bs), ldb, 0, buf(c), n, ep)
			}
			try("GemmBiasResidual", err)
			return
		}
	}
	b.GemmBias(transA, transB, m, n, k, a, bs, bias, c, false)
	b.Axpy(c, 1, r)
}

// GemmGELUGrad implements engine.GELUGradGemm: C = (op(A)·op(B)) ⊙
// GELU′(H). Where SetGemmGELUGrad is on and the product suits the
// ping-pong kernels with H as their epilogue source (the NN layout, A and B
// of one half type, C and H of one type, fp32 or that half type;
// gemmRouter.srcEpilogueRoute), it is one GEMM reading H beside the product;
// otherwise Gemm, then UnaryBackward(OpGELU, C, H, C). H must not share
// storage with C.
func (b *Backend) GemmGELUGrad(transA, transB bool, m, n, k int, a, bs, h, c engine.Storage) {
	if m == 0 || n == 0 {
		return
	}
	if h.Len() < m*n || c.Len() < m*n {
		panic(fmt.Sprintf("cuda.Backend.GemmGELUGrad: H holds %d and C %d values, %d×%d needs %d", h.Len(), c.Len(), m, n, m*n))
	}
	hb, cb := buf(h), buf(c)
	if overlaps(hb, hb.bytes, cb, cb.bytes) {
		panic("cuda.Backend.GemmGELUGrad: H overlaps C")
	}
	if ht := a.DType(); !transA && !transB && ht != engine.F32 && bs.DType() == ht && (c.DType() == engine.F32 || c.DType() == ht) && h.DType() == c.DType() {
		done, err := b.d.gemmGELUGrad(ht == engine.BF16, m, n, k, buf(a), k, buf(bs), n, hb, cb, n, isHalf(c))
		try("GemmGELUGrad", err)
		if done {
			return
		}
	}
	b.Gemm(transA, transB, 1, m, n, k, 1, a, 0, bs, 0, 0, c, 0)
	b.UnaryBackward(engine.OpGELU, c, h, c)
}

// restride returns x's batch of half matrices (type code ht, size elements
// each, stride apart) at a stride that is a multiple of 8, copied into a
// scratch buffer that free releases; or x itself and a no-op free when the
// stride already is one, or is 0 (one matrix shared by the batch). The
// padding between the copies is never read.
func (b *Backend) restride(x *Buffer, ht int32, stride, size, batch int) (*Buffer, int, func()) {
	if stride == 0 || stride%8 == 0 {
		return x, stride, func() {}
	}
	pad := (stride + 7) &^ 7
	tmp := b.scratch(2 * int64(batch*pad))
	b.copyAxis(tmp, ht, pad, x, ht, stride, batch, size)
	return tmp, pad, tmp.Free
}

// copyAxis copies count leading elements of each of outer rows from src
// (row stride sStride, type code st) to dst (row stride dStride, type dt).
func (b *Backend) copyAxis(dst *Buffer, dt int32, dStride int, src *Buffer, st int32, sStride int, outer, count int) {
	n := outer * count
	g := max(min((n+255)/256, 8*b.d.sms), 1)
	try("Gemm", b.d.Launch("elementwise", "copy_axis", D1(g), D1(256), 0, dst, dt, int64(dStride), int64(0),
		src, st, int64(sStride), int64(0), int64(outer), int64(count), int64(1), false))
}

func (b *Backend) Unary(op engine.UnaryOp, dst, x engine.Storage) {
	n := x.Len()
	b.ew("ew_unary", n, int32(op), buf(dst), dt(dst), buf(x), dt(x), int64(n))
}

func (b *Backend) UnaryBackward(op engine.UnaryOp, dx, x, dy engine.Storage) {
	n := x.Len()
	b.ew("ew_unary_bwd", n, int32(op), buf(dx), dt(dx), buf(x), dt(x), buf(dy), dt(dy), int64(n))
}

// fastLN reports whether layernorm.cu's register kernels take the width.
func fastLN(cols int) bool { return cols > 0 && cols%4 == 0 && cols <= 1024 }

// LayerNorm takes x and y fp32, fp16 or bf16; mean, rstd, gamma, beta are fp32.
func (b *Backend) LayerNorm(y, mean, rstd, x, gamma, beta engine.Storage, rows, cols int, eps float64) {
	if rows == 0 || cols == 0 {
		return
	}
	const op = "LayerNorm"
	mb, rb, gb, bb := f32(op, mean), f32(op, rstd), f32(op, gamma), f32(op, beta)
	if fastLN(cols) {
		try(op, b.d.layerNormForward(buf(y), dt(y), buf(x), dt(x), gb, bb, mb, rb, rows, cols, float32(eps)))
		return
	}
	b.rc("ln_fwd_any", D1(rows), D1(256), 0, buf(y), dt(y), mb, rb, buf(x), dt(x), gb, bb, int32(cols), float32(eps))
}

// LayerNormBackward takes dx, dy and x fp32, fp16 or bf16; the rest are fp32.
func (b *Backend) LayerNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd engine.Storage, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	const op = "LayerNormBackward"
	gb, mb, rb, dgb, dbb := f32(op, gamma), f32(op, mean), f32(op, rstd), f32(op, dgamma), f32(op, dbeta)
	if fastLN(cols) {
		try(op, b.d.layerNormBackward(buf(dx), dt(dx), buf(dy), dt(dy), buf(x), dt(x), gb, mb, rb, dgb, dbb, rows, cols))
		return
	}
	b.rc("ln_bwd_any", D1(rows), D1(256), 0, buf(dx), dt(dx), buf(dy), dt(dy), buf(x), dt(x), gb, mb, rb, int32(cols))
	if dgamma != nil || dbeta != nil {
		b.rc("ln_bwd_cols", D1((cols+31)/32), Dim3{32, 8, 1}, 0, dgb, dbb, buf(dy), dt(dy), buf(x), dt(x), mb, rb, int32(rows), int32(cols))
	}
}

func (b *Backend) BatchNorm(y, mean, rstd, x, gamma, beta, runMean, runVar engine.Storage, rows, cols int, training bool, momentum, eps float64) {
	if cols == 0 {
		return
	}
	const op = "BatchNorm"
	b.rc("bn_fwd", D1((cols+31)/32), Dim3{32, 8, 1}, 0, f32(op, y), f32(op, mean), f32(op, rstd), f32(op, x), f32(op, gamma), f32(op, beta),
		f32(op, runMean), f32(op, runVar), int32(rows), int32(cols), training, float32(momentum), float32(eps))
}

func (b *Backend) BatchNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd engine.Storage, rows, cols int) {
	if cols == 0 {
		return
	}
	const op = "BatchNormBackward"
	b.rc("bn_bwd", D1((cols+31)/32), Dim3{32, 8, 1}, 0, f32(op, dx), f32(op, dgamma), f32(op, dbeta), f32(op, dy), f32(op, x), f32(op, gamma),
		f32(op, mean), f32(op, rstd), int32(rows), int32(cols))
}

func (b *Backend) Softmax(y, x engine.Storage, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	b.rc("softmax_fwd", D1(rows), D1(256), 0, f32("Softmax", y), f32("Softmax", x), int32(cols))
}

func (b *Backend) SoftmaxBackward(dx, y, dy engine.Storage, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	const op = "SoftmaxBackward"
	b.rc("softmax_bwd", D1(rows), D1(256), 0, f32(op, dx), f32(op, y), f32(op, dy), int32(cols))
}

// flashOK reports whether the flash kernels (fp16 and bf16) take the
// shape: head dim 32 or 64 with the standard 1/√D scale they hard-wire.
func flashOK(headDim int, scale float64) bool {
	return (headDim == 32 || headDim == 64) && math.Abs(scale*math.Sqrt(float64(headDim))-1) < 1e-6
}

func (b *Backend) attn32Smem(tokens, headDim int) int {
	smem := 4 * (2*tokens + 2*headDim)
	if smem > b.d.smem {
		panic(fmt.Sprintf("cuda.Backend.Attention: %d tokens × head dim %d needs %d bytes of shared memory in the fp32 fallback", tokens, headDim, smem))
	}
	return smem
}

// Attention takes qkv and out fp32, fp16 or bf16 (lse fp32). The flash
// kernels run in the type of qkv when it is bf16 (AttentionForwardBF16),
// else in fp16 (AttentionForward): a qkv of the kernels' type goes to them
// as it is, an fp32 one through a cast to fp16; an out of another type than
// the kernels' is written through a scratch copy and converted (rounding to
// nearest even; a bf16 result stored into fp16 overflows to ±Inf past
// 65504). bf16 keeps bf16's range end to end: q, k, v, scores and outputs
// past fp16's 65504 are computed as they are. Scores, softmax statistics
// and lse are fp32 in either type.
func (b *Backend) Attention(out, lse, qkv engine.Storage, batch, tokens, heads, headDim int, scale float64) {
	if batch == 0 || tokens == 0 {
		return
	}
	elems := batch * tokens * heads * headDim
	lb := f32("Attention", lse)
	if flashOK(headDim, scale) && qkv.DType() == engine.BF16 {
		bo := buf(out)
		if out.DType() != engine.BF16 {
			bo = b.scratch(2 * int64(elems))
			defer bo.Free()
		}
		try("Attention", b.d.AttentionForwardBF16(buf(qkv), bo, lb, batch, tokens, heads, headDim))
		if out.DType() != engine.BF16 {
			b.ew("ew_convert", elems, buf(out), dt(out), bo, dtBF16, (*Buffer)(nil), int64(elems))
		}
		return
	}
	if flashOK(headDim, scale) {
		hq, freeQ := b.half(qkv, 3*elems)
		defer freeQ()
		ho := buf(out)
		if !isF16(out) {
			ho = b.scratch(2 * int64(elems))
			defer ho.Free()
		}
		try("Attention", b.d.AttentionForward(hq, ho, lb, batch, tokens, heads, headDim))
		if !isF16(out) {
			b.fromF16Into(out, ho, elems) // fp32, or bf16
		}
		return
	}
	q32, freeQ := b.f32In(qkv, 3*elems)
	defer freeQ()
	o32, commit := b.f32Out(out, elems)
	b.rc("attn32_fwd", Dim3{tokens, batch * heads, 1}, D1(256), b.attn32Smem(tokens, headDim),
		o32, lb, q32, int32(tokens), int32(heads), int32(headDim), float32(scale))
	commit()
}

// AttentionBackward takes dout, qkv, out and dqkv fp32, fp16 or bf16 (lse
// fp32), and runs the kernels of Attention's type (bf16 when qkv is bf16,
// else fp16).
//
// bf16 (AttentionBackwardBF16): out and dout of another type are converted
// to bf16 scratch copies (no scale: bf16 has fp32's exponent range, so a
// gradient far below fp16's normal range keeps its magnitude), and a dqkv
// of another type is written through a bf16 scratch copy and converted.
//
// fp16 (AttentionBackward): an fp32 dout is scaled by a power of two into
// fp16's range and the scale divided out of dqkv; an fp16 dout (autocast:
// already loss-scaled) goes to the kernels as it is, and so does an fp16
// dqkv then. A bf16 out is converted to fp16 (fp16's range: past ±65504 it
// overflows) and a bf16 dout, which bf16 training does not loss-scale, is
// widened to fp32 and scaled as an fp32 one is; a bf16 dqkv is rounded from
// the fp16 result.
func (b *Backend) AttentionBackward(dqkv, dout, qkv, out, lse engine.Storage, batch, tokens, heads, headDim int, scale float64) {
	if batch == 0 || tokens == 0 {
		return
	}
	elems := batch * tokens * heads * headDim
	lb := f32("AttentionBackward", lse)
	if flashOK(headDim, scale) && qkv.DType() == engine.BF16 {
		bo, freeO := b.bf16(out, elems)
		defer freeO()
		bdo, freeDO := b.bf16(dout, elems)
		defer freeDO()
		bdq := buf(dqkv)
		direct := dqkv.DType() == engine.BF16
		if !direct {
			bdq = b.scratch(6 * int64(elems))
			defer bdq.Free()
		}
		try("AttentionBackward", b.d.AttentionBackwardBF16(buf(qkv), bo, bdo, lb, bdq, batch, tokens, heads, headDim))
		if !direct {
			b.ew("ew_convert", 3*elems, buf(dqkv), dt(dqkv), bdq, dtBF16, (*Buffer)(nil), int64(3*elems))
		}
		return
	}
	if flashOK(headDim, scale) {
		hq, freeQ := b.half(qkv, 3*elems)
		defer freeQ()
		ho, freeO := b.half(out, elems)
		defer freeO()
		var hdo, sd *Buffer
		if isF16(dout) {
			hdo = buf(dout)
		} else {
			// The gradient is linear in dout: scale it into fp16's range
			// and divide the scale out of dqkv. (A bf16 dout is widened to
			// fp32 first, exactly; an fp32 one is used as it is.)
			d32, freeD := b.f32In(dout, elems)
			defer freeD()
			hdo, sd = b.scaledF16(d32, elems, attnScaleExp)
			defer hdo.Free()
			defer sd.Free()
		}
		hdq := buf(dqkv)
		direct := isF16(dqkv) && sd == nil
		if !direct {
			hdq = b.scratch(6 * int64(elems))
			defer hdq.Free()
		}
		try("AttentionBackward", b.d.AttentionBackward(hq, ho, hdo, lb, hdq, batch, tokens, heads, headDim))
		if !direct {
			b.ew("ew_convert", 3*elems, buf(dqkv), dt(dqkv), hdq, dtF16, sd, int64(3*elems))
		}
		return
	}
	smem := b.attn32Smem(tokens, headDim)
	q32, freeQ := b.f32In(qkv, 3*elems)
	defer freeQ()
	o32, freeO := b.f32In(out, elems)
	defer freeO()
	do32, freeDO := b.f32In(dout, elems)
	defer freeDO()
	dq32, commit := b.f32Out(dqkv, 3*elems)
	dvec := b.scratch(4 * int64(batch*heads*tokens))
	defer dvec.Free()
	grid := Dim3{tokens, batch * heads, 1}
	b.rc("attn32_bwd_dq", grid, D1(256), smem, dq32, dvec, do32, q32, o32, lb,
		int32(tokens), int32(heads), int32(headDim), float32(scale))
	b.rc("attn32_bwd_dkdv", grid, D1(256), smem, dq32, dvec, do32, q32, lb,
		int32(tokens), int32(heads), int32(headDim), float32(scale))
	commit()
}

func (b *Backend) L2Normalize(y, norm, x engine.Storage, rows, cols int, eps float64) {
	if rows == 0 {
		return
	}
	const op = "L2Normalize"
	b.rc("l2n_fwd", D1(rows), D1(256), 0, f32(op, y), f32(op, norm), f32(op, x), int32(cols), float32(eps))
}

func (b *Backend) L2NormalizeBackward(dx, dy, y, norm engine.Storage, rows, cols int) {
	if rows == 0 {
		return
	}
	const op = "L2NormalizeBackward"
	b.rc("l2n_bwd", D1(rows), D1(256), 0, f32(op, dx), f32(op, dy), f32(op, y), f32(op, norm), int32(cols))
}

// CrossEntropy uploads the labels (a small synchronous copy), computes each
// row's loss and dlogits, then the mean of the row losses.
func (b *Backend) CrossEntropy(loss, dlogits, logits engine.Storage, labels []int32, rows, cols int) {
	if rows == 0 {
		b.Fill(loss, 0)
		return
	}
	lab := b.scratch(4 * int64(rows))
	defer lab.Free()
	try("CrossEntropy", lab.copyIn(unsafe.Pointer(&labels[0]), 4*int64(rows), "CrossEntropy labels"))
	runtime.KeepAlive(labels)
	rl := b.scratch(4 * int64(rows))
	defer rl.Free()
	b.rc("ce_fwd", D1(rows), D1(256), 0, rl, f32("CrossEntropy", dlogits), f32("CrossEntropy", logits), lab, int32(cols), float32(1/float64(rows)))
	b.rc("sum_final", D1(1), D1(256), 0, f32("CrossEntropy", loss), rl, int32(rows), float32(1/float64(rows)))
}

func (b *Backend) Permute(dst, src engine.Storage, shape, perm []int) {
	r := len(shape)
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n == 0 {
		return
	}
	if r > 6 {
		panic(fmt.Sprintf("cuda.Backend.Permute: %d axes (at most 6)", r))
	}
	srcStride := make([]int, r)
	st := 1
	for i := r - 1; i >= 0; i-- {
		srcStride[i] = st
		st *= shape[i]
	}
	var dims, steps [6]int64
	for i := range dims {
		dims[i] = 1
	}
	for i, p := range perm {
		dims[6-r+i], steps[6-r+i] = int64(shape[p]), int64(srcStride[p])
	}
	g := max(min((n+255)/256, 8*b.d.sms), 1)
	try("Permute", b.d.Launch("elementwise", "permute6", D1(g), D1(256), 0, buf(dst), dt(dst), buf(src), dt(src), int64(n),
		dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], steps[0], steps[1], steps[2], steps[3], steps[4], steps[5]))
}

func (b *Backend) CopyAxis(dst engine.Storage, dstAxis, dstOff int, src engine.Storage, srcAxis, srcOff int, outer, count, inner int, accumulate bool) {
	n := outer * count * inner
	if n == 0 {
		return
	}
	g := max(min((n+255)/256, 8*b.d.sms), 1)
	try("CopyAxis", b.d.Launch("elementwise", "copy_axis", D1(g), D1(256), 0, buf(dst), dt(dst), int64(dstAxis), int64(dstOff),
		buf(src), dt(src), int64(srcAxis), int64(srcOff), int64(outer), int64(count), int64(inner), accumulate))
}

func (b *Backend) AdamW(param, grad, m, v engine.Storage, lr, beta1, beta2, eps, wd float64, t int) {
	n := param.Len()
	bc1 := 1 - math.Pow(beta1, float64(t))
	bc2 := math.Sqrt(1 - math.Pow(beta2, float64(t)))
	const op = "AdamW"
	b.ew("opt_adamw", n, f32(op, param), f32(op, grad), f32(op, m), f32(op, v), float32(1-lr*wd), float32(lr/bc1),
		float32(beta1), float32(beta2), float32(1/bc2), float32(eps), int64(n))
}

// AdamWMulti is AdamW over every tensor of the lists in one launch
// (engine.MultiAdamW): one block per chunk of the table chunkTable builds
// (param, grad, m and v pointers at the chunk, and its length).
func (b *Backend) AdamWMulti(params, grads, ms, vs []engine.Storage, lr, beta1, beta2, eps, wd float64, t int) {
	tb, chunks, rest := b.chunkTable("AdamWMulti", params, grads, ms, vs)
	for _, i := range rest {
		b.AdamW(params[i], grads[i], ms[i], vs[i], lr, beta1, beta2, eps, wd, t)
	}
	if chunks == 0 {
		return
	}
	bc1 := 1 - math.Pow(beta1, float64(t))
	bc2 := math.Sqrt(1 - math.Pow(beta2, float64(t)))
	try("AdamWMulti", b.d.Launch("elementwise", "opt_adamw_multi", D1(chunks), D1(256), 0, tb, float32(1-lr*wd), float32(lr/bc1),
		float32(beta1), float32(beta2), float32(1/bc2), float32(eps)))
}

func (b *Backend) SGD(param, grad, bufm engine.Storage, lr, momentum, wd float64, first bool) {
	n := param.Len()
	var mb *Buffer
	if momentum != 0 {
		mb = f32("SGD", bufm)
	}
	b.ew("opt_sgd", n, f32("SGD", param), f32("SGD", grad), mb, float32(lr), float32(momentum), float32(wd), first, int64(n))
}

// multiChunk is the number of elements one block of the multi-tensor
// kernels (opt_adamw_multi, opt_ema_multi, ew_scale_multi) updates.
const multiChunk = 16384

// chunkTable returns the device table the multi-tensor kernels read, and
// its count of chunks: row i of the lists (lists[k][i] for every k, as
// long as lists[0][i] at least) cut into chunks of multiChunk elements, a
// chunk len(lists)+1 64-bit words (each list's pointer advanced to the
// chunk, then its length). Rows not all float32 and 16-byte aligned are
// left out and their indices returned, for the per-storage kernels (which
// need the same alignment: whole allocations always have it). The table
// comes from segTable's cache.
func (b *Backend) chunkTable(op string, lists ...[]engine.Storage) (tab *Buffer, chunks int, rest []int) {
	var t []byte
	for i, first := range lists[0] {
		n := first.Len()
		ok := true
		for k, l := range lists {
			if len(l) != len(lists[0]) {
				panic(fmt.Sprintf("cuda.%s: list %d has %d storages, list 0 %d", op, k, len(l), len(lists[0])))
			}
			if l[i].Len() < n {
				panic(fmt.Sprintf("cuda.%s: storage %d of list %d has %d values, of list 0 %d", op, i, k, l[i].Len(), n))
			}
			ok = ok && l[i].DType() == engine.F32 && buf(l[i]).ptr%16 == 0
		}
		if !ok {
			rest = append(rest, i)
			continue
		}
		for off := 0; off < n; off += multiChunk {
			for _, l := range lists {
				t = binary.LittleEndian.AppendUint64(t, uint64(buf(l[i]).ptr)+4*uint64(off))
			}
			t = binary.LittleEndian.AppendUint64(t, uint64(min(multiChunk, n-off)))
			chunks++
		}
	}
	if chunks == 0 {
		return nil, 0, rest
	}
	return b.segTable(t), chunks, rest
}

// EMAAll implements engine.MultiUpdater: EMA over every pair in one launch
// of opt_ema_multi (the same arithmetic as opt_ema).
func (b *Backend) EMAAll(dsts, srcs []engine.Storage, m float64) {
	tab, chunks, rest := b.chunkTable("EMAAll", dsts, srcs)
	if chunks > 0 {
		try("EMAAll", b.d.Launch("elementwise", "opt_ema_multi", D1(chunks), D1(256), 0, tab, float32(m), float32(1-m)))
	}
	for _, i := range rest {
		b.EMA(dsts[i], srcs[i], m)
	}
}

// ScaleAll implements engine.MultiUpdater: every storage (float32) scaled
// in place in one launch of ew_scale_multi.
func (b *Backend) ScaleAll(xs []engine.Storage, alpha float64) {
	tab, chunks, rest := b.chunkTable("ScaleAll", xs, xs) // src = dst: the kernel reads only dst
	if chunks > 0 {
		try("ScaleAll", b.d.Launch("elementwise", "ew_scale_multi", D1(chunks), D1(256), 0, tab, float32(alpha)))
	}
	for _, i := range rest {
		b.Scale(xs[i], xs[i], alpha)
	}
}

func (b *Backend) EMA(dst, src engine.Storage, m float64) {
	n := dst.Len()
	b.ew("opt_ema", n, f32("EMA", dst), f32("EMA", src), float32(m), float32(1-m), int64(n))
}

var (
	_ engine.Backend         = (*Backend)(nil)
	_ engine.MultiAdamW      = (*Backend)(nil)
	_ engine.MixedPrecision  = (*Backend)(nil)
	_ engine.BiasGemm        = (*Backend)(nil)
	_ engine.SquareSummer    = (*Backend)(nil)
	_ engine.SquareSummerAll = (*Backend)(nil)
	_ engine.MultiUpdater    = (*Backend)(nil)
)
