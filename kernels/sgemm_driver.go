package kernels

import (
	"sync"
	"sync/atomic"
)

// gemmKernel is a register-blocked micro-kernel. It multiplies a packed
// mr×kc sliver of op(A) (kc groups of mr values) by a packed kc×nr sliver of
// op(B) (kc groups of nr values) and writes the full mr×nr tile
// c[r*ldc+j] = alpha·acc + beta·c[r*ldc+j]; when beta is 0 it does not read c.
type gemmKernel func(kc int, a, b, c []float32, ldc int, alpha, beta float32)

// gemmImpl is one way of running Sgemm: a micro-kernel and the cache
// blocking chosen for it.
type gemmImpl struct {
	name   string
	mr, nr int // micro-tile: rows of op(A), columns of op(B)
	kc     int // depth of a packed block (A sliver of mr×kc stays in L1)
	nb     int // columns of the packed B block (kc×nb stays in L2)
	mb     int // rows of the packed A panel (mb×kc stays in L3)
	kern   gemmKernel
	// kernHalf, when set, is the same kernel for nr/2 columns: a last B
	// sliver of at most nr/2 columns is packed nr/2 wide and multiplied
	// with it, which halves the work wasted on padding in narrow products.
	kernHalf gemmKernel
	pack4    packFunc // optional fast transposing pack
	packRows rowsFunc // optional fast row-to-sliver pack
	// kernDirect and kernDirectHalf, when set, are kern and kernHalf with
	// op(A) read in place where A is stored untransposed, so that full
	// slivers of A are not packed (see directA).
	kernDirect, kernDirectHalf directKernel
}

// useDirectA lets the implementations that have direct kernels use them;
// tests turn it off to compare against the packed path.
var useDirectA = true

// directMaxN is the widest product whose A is read in place. A packed
// sliver of A serves every B sliver of the product, so packing pays where
// there are many; reading A in place costs a little in each tile instead.
// On a 2-core Xeon (Emerald Rapids, one thread) the AVX-512 direct kernels
// ran the MoCo v3 demo's products (n = 128 to 512) 10–15% faster and
// 6400×768×384 faster still, and lost about 10% at 2048³; the AVX2 ones
// (6×16) gained 3–25% on the same products up to 1024 columns. A row stride that is a
// multiple of 4 KiB (lda%1024 == 0) puts the 12 rows of a sliver in one
// cache set, and lost too (6400×256×1024), so such an A is packed.
const directMaxN = 1024

// directKernel is a gemmKernel that reads the mr×kc sliver of op(A) where
// it is stored: row r at a[r*lda:], its kc values contiguous.
type directKernel func(kc int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32)

// gemmGeneric is the plain Go implementation, used when the CPU lacks the
// vector units the assembly kernels need.
var gemmGeneric = &gemmImpl{
	name: "generic", mr: 2, nr: 4, kc: 256, nb: 512, mb: 512,
	kern: kernGeneric2x4,
}

// gemmImpls lists every implementation this CPU can run, fastest first; the
// generic one is always last. gemmBest is gemmImpls[0].
var (
	gemmImpls = []*gemmImpl{gemmGeneric}
	gemmBest  = gemmGeneric
)

// registerGemm puts an implementation ahead of those already listed.
func registerGemm(g *gemmImpl) {
	gemmImpls = append([]*gemmImpl{g}, gemmImpls...)
	gemmBest = gemmImpls[0]
}

// gemmCtx holds one Sgemm call: its arguments, the packed buffers and the
// block the workers are on. Contexts are pooled so that a call in steady
// state allocates nothing.
type gemmCtx struct {
	g              *gemmImpl
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	c              []float32
	ldc            int
	epi            Epilogue // applied to each strip of C after the last k block

	apack, bpack []float32
	tmp          []float32 // mr×nr edge tile per worker

	// the block in hand
	packing  bool // phase: pack (true) or multiply (false)
	packA    bool // whether the A panel is packed in this block
	directA  bool // full slivers of A are read in place, not packed
	ic, mcb  int  // rows of the A panel
	pc, kcb  int  // depth of the block
	jc, ncb  int  // columns of the B block
	betaEff  float32
	splitM   bool // multiply phase splits A slivers (else B slivers)
	nthreads int
	next     atomic.Int64 // next item of the phase to claim
	join     gemmJoin
}

var gemmCtxPool sync.Pool

func getGemmCtx(g *gemmImpl, nthreads int) *gemmCtx {
	x, _ := gemmCtxPool.Get().(*gemmCtx)
	if x == nil {
		x = new(gemmCtx)
	}
	x.g = g
	x.nthreads = nthreads
	return x
}

func putGemmCtx(x *gemmCtx) {
	x.a, x.b, x.c = nil, nil, nil
	x.epi = Epilogue{}
	gemmCtxPool.Put(x)
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// blockSize splits total into the fewest blocks of at most max and returns
// the size that spreads it evenly, rounded up to a multiple of unit.
func blockSize(total, max, unit int) int {
	if total <= max {
		return (total + unit - 1) / unit * unit
	}
	nb := (total + max - 1) / max
	bs := (total + nb - 1) / nb
	return (bs + unit - 1) / unit * unit
}

// gemmRun computes C = alpha·op(A)·op(B) + beta·C with implementation g over
// nthreads workers, and then epi on each strip of C (see finish). Sizes are checked;
// m, n, k > 0 and alpha != 0.
func gemmRun(g *gemmImpl, nthreads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, epi Epilogue) {
	x := getGemmCtx(g, nthreads)
	x.transA, x.transB = transA, transB
	x.m, x.n, x.k = m, n, k
	x.alpha, x.beta = alpha, beta
	x.a, x.lda, x.b, x.ldb, x.c, x.ldc = a, lda, b, ldb, c, ldc
	x.epi = epi

	mr, nr := g.mr, g.nr
	// Each thread gets a share of the A panel as large as one thread alone.
	mbs := blockSize(m, g.mb*nthreads, mr)
	kbs := blockSize(k, g.kc, 1)
	nbs := blockSize(n, g.nb, nr)
	x.apack = grow(x.apack, mbs*kbs)
	x.bpack = grow(x.bpack, nbs*kbs)
	x.tmp = grow(x.tmp, nthreads*mr*nr)
	x.directA = useDirectA && g.kernDirect != nil && !transA && n <= directMaxN && lda%1024 != 0

	for ic := 0; ic < m; ic += mbs {
		x.ic, x.mcb = ic, min(mbs, m-ic)
		mSlivers := (x.mcb + mr - 1) / mr
		for pc := 0; pc < k; pc += kbs {
			x.pc, x.kcb = pc, min(kbs, k-pc)
			x.betaEff = beta
			if pc > 0 {
				x.betaEff = 1
			}
			for jc := 0; jc < n; jc += nbs {
				x.jc, x.ncb = jc, min(nbs, n-jc)
				nSlivers := (x.ncb + nr - 1) / nr
				x.packA = jc == 0
				x.splitM = mSlivers >= 2*nthreads || mSlivers >= nSlivers
				x.packing = true
				x.parallel()
				x.packing = false
				x.parallel()
			}
		}
	}
	putGemmCtx(x)
}

func (x *gemmCtx) parallel() {
	x.next.Store(0)
	if x.nthreads <= 1 {
		x.work(0, 1)
		return
	}
	runWorkers(x, x.nthreads, &x.join)
}

// packChunk is how many slivers a worker claims at a time when it packs
// rows of a stored matrix into slivers: at least 8, so that it reads runs of
// 8·nr values or more from each row (shorter runs measured slower), and
// about a half of each worker's share, so that a slowed worker takes less.
func packChunk(slivers, nw int) int {
	return max(8, (slivers+2*nw-1)/(2*nw))
}

// work is worker w's part of the phase in hand. Workers claim items (B
// slivers to pack, A or B slivers to multiply) one at a time from x.next, so
// that a worker slowed by other load on its core takes fewer.
func (x *gemmCtx) work(w, nw int) {
	g := x.g
	mr, nr := g.mr, g.nr
	kc := x.kcb
	mSlivers := (x.mcb + mr - 1) / mr
	nSlivers := (x.ncb + nr - 1) / nr
	if x.packing {
		bChunk := packChunk(nSlivers, nw)
		bChunks := (nSlivers + bChunk - 1) / bChunk
		aChunk := 1
		aItems := 0
		if x.packEarly() {
			aItems = mSlivers
			if x.transA {
				aChunk = packChunk(mSlivers, nw)
				aItems = (mSlivers + aChunk - 1) / aChunk
			}
		}
		for {
			it := int(x.next.Add(1) - 1)
			switch {
			case it < bChunks:
				packB(x.bpack, nr, g.kernHalf != nil, x.transB, x.b, x.ldb, x.jc, x.ncb, it*bChunk, min(it*bChunk+bChunk, nSlivers), x.pc, kc, g.pack4, g.packRows)
			case it < bChunks+aItems && x.transA:
				// Stored Aᵀ: rows of it are runs of op(A) columns, packed
				// like B, a chunk of slivers at a time, row by row.
				lo := (it - bChunks) * aChunk
				packB(x.apack, mr, false, false, x.a, x.lda, x.ic, x.mcb, lo, min(lo+aChunk, mSlivers), x.pc, kc, nil, g.packRows)
			case it < bChunks+aItems:
				x.packASliver(it - bChunks)
			default:
				return
			}
		}
	}
	tmp := x.tmp[w*mr*nr : (w+1)*mr*nr]
	if !x.splitM {
		for {
			t := int(x.next.Add(1) - 1)
			if t >= nSlivers {
				return
			}
			for s := 0; s < mSlivers; s++ {
				x.tile(s, t, tmp)
			}
			x.finish(0, x.mcb, t*nr, min(nr, x.ncb-t*nr))
		}
	}
	for {
		s := int(x.next.Add(1) - 1)
		if s >= mSlivers {
			return
		}
		if x.packA && !x.packEarly() {
			x.packASliver(s)
		}
		for t := 0; t < nSlivers; t++ {
			x.tile(s, t, tmp)
		}
		x.finish(s*mr, min(mr, x.mcb-s*mr), 0, x.ncb)
	}
}

// finish runs the epilogue, after the last k block, on the rows [i0,
// i0+rows) and columns [j0, j0+cols) of the block in hand, which this
// worker has just multiplied: a sliver's whole run of tiles at once, so
// that each epilogue call covers long rows while they are still in cache.
func (x *gemmCtx) finish(i0, rows, j0, cols int) {
	if x.epi.active() && x.pc+x.kcb == x.k {
		x.epi.apply(x.c, x.ldc, x.ic+i0, rows, x.jc+j0, cols)
	}
}

// packEarly reports whether the A panel is packed in the pack phase rather
// than sliver by sliver as the multiply phase claims them: when the multiply
// phase splits B, and when A is stored transposed, where packing a whole
// chunk row by row reads far better than one narrow sliver at a time.
func (x *gemmCtx) packEarly() bool {
	return x.packA && (x.transA || !x.splitM)
}

// packASliver packs A sliver s of the panel in hand, unless the kernels
// read it in place.
func (x *gemmCtx) packASliver(s int) {
	mr, kc := x.g.mr, x.kcb
	i0 := s * mr
	if x.directA && i0+mr <= x.mcb {
		return
	}
	packA(x.apack[s*mr*kc:(s+1)*mr*kc], mr, x.transA, x.a, x.lda, x.ic+i0, min(mr, x.mcb-i0), x.pc, kc, x.g.pack4)
}

// tile multiplies A sliver s by B sliver t into C, through tmp at the edges.
func (x *gemmCtx) tile(s, t int, tmp []float32) {
	g := x.g
	mr, nr, kc := g.mr, g.nr, x.kcb
	alpha, beta := x.alpha, x.betaEff
	ldc := x.ldc
	ap := x.apack[s*mr*kc : (s+1)*mr*kc]
	bp := x.bpack[t*nr*kc : (t+1)*nr*kc]
	i := x.ic + s*mr
	j := x.jc + t*nr
	rows := min(mr, x.m-i)
	cols := min(nr, x.n-j)
	if x.directA && rows == mr {
		x.tileDirect(i, j, cols, bp, tmp)
		return
	}
	kern, width := g.kern, nr
	if cols <= nr/2 && g.kernHalf != nil {
		kern, width = g.kernHalf, nr/2
	}
	if rows == mr && cols == width {
		kern(kc, ap, bp, x.c[i*ldc+j:], ldc, alpha, beta)
		return
	}
	kern(kc, ap, bp, tmp, width, alpha, 0)
	x.storeEdge(tmp, width, i, j, rows, cols)
}

// storeEdge adds the rows×cols corner of the edge tile in tmp (row stride
// width) into C at (i, j), as the kernels do with beta.
func (x *gemmCtx) storeEdge(tmp []float32, width, i, j, rows, cols int) {
	ldc, beta := x.ldc, x.betaEff
	for r := 0; r < rows; r++ {
		cr := x.c[(i+r)*ldc+j : (i+r)*ldc+j+cols]
		tr := tmp[r*width : r*width+cols]
		if beta == 0 {
			copy(cr, tr)
			continue
		}
		for q, v := range tr {
			cr[q] = v + beta*cr[q]
		}
	}
}

// packA packs rows [i0, i0+rows) and depth [p0, p0+kc) of op(A) into dst as
// kc groups of mr values, padding rows past rows with zeros.
func packA(dst []float32, mr int, transA bool, a []float32, lda, i0, rows, p0, kc int, pack4 packFunc) {
	dst = dst[:kc*mr]
	if transA {
		// op(A)[i][p] = a[p*lda+i]: each group is a contiguous run.
		for p := 0; p < kc; p++ {
			d := dst[p*mr : p*mr+mr]
			copy(d, a[(p0+p)*lda+i0:(p0+p)*lda+i0+rows])
			clear(d[rows:])
		}
		return
	}
	packTrans(dst, mr, a, lda, i0, rows, p0, kc, pack4)
}

// packB packs slivers [lo, hi) of the columns [j0, j0+cols) of op(B), depth
// [p0, p0+kc), into dst: sliver s at dst[s*nr*kc:] as kc groups of nr values,
// with columns past cols zero. With half, a last sliver of at most nr/2
// columns is packed nr/2 wide.
func packB(dst []float32, nr int, half, transB bool, b []float32, ldb, j0, cols, lo, hi, p0, kc int, pack4 packFunc, rows rowsFunc) {
	if transB {
		// op(B)[p][j] = b[j*ldb+p]
		for s := lo; s < hi; s++ {
			n := min(nr, cols-s*nr)
			w := nr
			if half && n <= nr/2 {
				w = nr / 2
			}
			packTrans(dst[s*nr*kc:s*nr*kc+w*kc], w, b, ldb, j0+s*nr, n, p0, kc, pack4)
		}
		return
	}
	full := min(hi, cols/nr) // slivers with all nr columns
	if lo < full && rows != nil && nr%4 == 0 {
		first := p0*ldb + j0 + lo*nr
		_ = b[first+(kc-1)*ldb+(full-lo)*nr-1]
		_ = dst[full*nr*kc-1]
		rows(&dst[lo*nr*kc], &b[first], ldb, nr, full-lo, kc)
	} else if lo < full {
		// Row by row, so that B is read in long contiguous runs.
		for p := 0; p < kc; p++ {
			row := b[(p0+p)*ldb+j0 : (p0+p)*ldb+j0+full*nr]
			switch nr {
			case 32:
				for s := lo; s < full; s++ {
					*(*[32]float32)(dst[(s*kc+p)*32:]) = *(*[32]float32)(row[s*32:])
				}
			case 16:
				for s := lo; s < full; s++ {
					*(*[16]float32)(dst[(s*kc+p)*16:]) = *(*[16]float32)(row[s*16:])
				}
			case 12: // A stored transposed, for the AVX-512 kernel
				for s := lo; s < full; s++ {
					*(*[12]float32)(dst[(s*kc+p)*12:]) = *(*[12]float32)(row[s*12:])
				}
			case 6: // A stored transposed, for the AVX2 kernel
				for s := lo; s < full; s++ {
					*(*[6]float32)(dst[(s*kc+p)*6:]) = *(*[6]float32)(row[s*6:])
				}
			default:
				for s := lo; s < full; s++ {
					copy(dst[(s*kc+p)*nr:(s*kc+p+1)*nr], row[s*nr:(s+1)*nr])
				}
			}
		}
	}
	for s := max(lo, full); s < hi; s++ {
		n := cols - s*nr
		w := nr
		if half && n <= nr/2 {
			w = nr / 2
		}
		for p := 0; p < kc; p++ {
			d := dst[s*nr*kc+p*w : s*nr*kc+(p+1)*w]
			copy(d, b[(p0+p)*ldb+j0+s*nr:(p0+p)*ldb+j0+s*nr+n])
			clear(d[n:])
		}
	}
}

// rowsFunc cuts each of kc rows of src (row stride ld) into nsl runs of
// width values, width a multiple of 4, and stores run s of row p at
// dst[s*width*kc+p*width]. Unchecked: the caller makes sure both ranges are
// in bounds.
type rowsFunc func(dst, src *float32, ld, width, nsl, kc int)

// packFunc transposes 4 rows of src (row stride ld), columns [0, kc8) with
// kc8 a multiple of 8, into dst[p*stride+r] for r < 4. Unchecked: the caller
// makes sure both ranges are in bounds.
type packFunc func(dst, src *float32, ld, stride, kc8 int)

// packTrans sets dst[p*width+q] = x[(first+q)*ld+p0+p] for q < count and p <
// kc, and zero for q in [count, width): rows of x become groups of dst.
func packTrans(dst []float32, width int, x []float32, ld, first, count, p0, kc int, pack4 packFunc) {
	dst = dst[:kc*width]
	q := 0
	if kc8 := kc &^ 7; pack4 != nil && kc8 > 0 {
		for ; q+4 <= count; q += 4 {
			base := (first+q)*ld + p0
			_ = x[base+3*ld+kc8-1]
			_ = dst[(kc8-1)*width+q+3]
			pack4(&dst[q], &x[base], ld, width, kc8)
		}
		for r := 0; r < q && kc8 < kc; r++ {
			src := x[(first+r)*ld+p0+kc8 : (first+r)*ld+p0+kc]
			for p, v := range src {
				dst[(kc8+p)*width+r] = v
			}
		}
	}
	for ; q < count; q++ {
		src := x[(first+q)*ld+p0 : (first+q)*ld+p0+kc]
		for p, v := range src {
			dst[p*width+q] = v
		}
	}
	if count < width {
		for p := 0; p < kc; p++ {
			clear(dst[p*width+count : p*width+width])
		}
	}
}

// tileDirect is tile for a full sliver of A read in place: rows [i, i+mr)
// and columns [j, j+cols) of C, through tmp at the right edge.
func (x *gemmCtx) tileDirect(i, j, cols int, bp, tmp []float32) {
	g := x.g
	nr, kc, ldc := g.nr, x.kcb, x.ldc
	kern, width := g.kernDirect, nr
	if cols <= nr/2 && g.kernDirectHalf != nil {
		kern, width = g.kernDirectHalf, nr/2
	}
	a := x.a[i*x.lda+x.pc:]
	if cols == width {
		kern(kc, a, x.lda, bp, x.c[i*ldc+j:], ldc, x.alpha, x.betaEff)
		return
	}
	kern(kc, a, x.lda, bp, tmp, width, x.alpha, 0)
	x.storeEdge(tmp, width, i, j, g.mr, cols)
}
