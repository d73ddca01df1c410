//go:build cuda

package cuda

import (
	"fmt"
	"slices"

	"github.com/mocogo/mocogo/kernels"
)

// tuneKey is what makes two products the same to GemmTune: everything that
// can change which kernel runs or how fast.
type tuneKey struct {
	bf, transA, transB bool
	m, n, k            int
	lda, ldb, ldc      int
	flags              int  // gemmGELU, gemmOutF16, and the setting gemmStaged
	bias, cAligned     bool // a bias; C 16-byte aligned (the TMA store needs it)
	beta               bool // beta ≠ 0: C is read (a residual added in the epilogue)
}

func (k tuneKey) String() string {
	t := map[bool]string{false: "n", true: "t"}
	dt := "f16"
	if k.bf {
		dt = "bf16"
	}
	s := fmt.Sprintf("%s%s %s %d×%d×%d", t[k.transA], t[k.transB], dt, k.m, k.n, k.k)
	if k.beta {
		s += " +βC"
	}
	return s
}

// GemmTuning is GemmTune's measurement of one product shape: the choice it
// made, each candidate's median milliseconds in the order they were timed,
// and the candidates it refused with the reason (a result that differs
// from GemmAuto's, or a launch the device refused).
type GemmTuning struct {
	Shape    string // layout, type and m×n×k, e.g. "nt f16 50432×1152×384"
	Chose    GemmChoice
	Timed    []GemmChoice // the candidates timed, GemmAuto first
	Ms       map[GemmChoice]float64
	Rejected map[GemmChoice]string
}

// tuneWrongResult begins the reason GemmTuning.Rejected gives for a
// candidate whose result differs from GemmAuto's: a defect of that kernel,
// where a refused launch is not.
const tuneWrongResult = "wrong result: "

// tuneSettings are the schedule settings GemmTune tries with each kind:
// every combination of the stagger, the prefetch, the deep store and the
// narrow tiles, and stream-K (which reaches only the split products, which
// those four do not). A setting that does not reach a kind's kernels for a
// product (tunePath) is not timed again.
var tuneSettings = func() []GemmChoice {
	var out []GemmChoice
	for i := range 16 {
		out = append(out, GemmChoice{Stagger: i&1 != 0, Prefetch: i&2 != 0, DeepStore: i&4 != 0, Narrow: i&8 != 0})
	}
	return append(out, GemmChoice{StreamK: true})
}()

// gemmTuneCandidates are the choices GemmTune tries, GemmAuto without
// settings first (the reference the others must agree with): each kind
// with each of tuneSettings. On an H100 the kinds include the ping-pong
// kernels; GemmMMATMA (which exists for the mma.sync rate at
// 4096³) and GemmTMA (which GemmAuto itself takes at 4096³) are not among
// them.
func (d *Device) gemmTuneCandidates() []GemmChoice {
	kinds := []GemmKernel{GemmAuto, GemmMMA4, GemmMMAWide}
	if d.major == 9 && d.minor == 0 {
		kinds = []GemmKernel{GemmAuto, GemmMMA, GemmMMA4, GemmWGMMA128, GemmTMAPersistent, GemmTMAStore, GemmTMACluster, GemmTMAPingpong, GemmTMAPingpong192}
	}
	var out []GemmChoice
	for _, k := range kinds {
		for _, s := range tuneSettings {
			s.Kernel = k
			out = append(out, s)
		}
	}
	return out
}

// tunePath is what a choice runs for one product: two choices with the
// same path launch the same kernels, with the same values of the flags
// those kernels read, so GemmTune times only the first. (Two choices that
// launch the same kernels may still have different paths: that costs only
// a timing.)
type tunePath struct {
	kernel GemmKernel // the kind whose kernels run (GemmAuto resolved)
	split  int        // tuneNoSplit, tuneSplitTMA, tuneStreamK or tuneSplitMMA
	sched  int        // the schedule flags the kernels read
	deep   bool       // the deep-store kernels (_tma_s192d) instead of _tma_s192
	narrow bool       // 192-wide TMA-store tiles where tmaTile picks 256
}

// How a tunePath splits K.
const (
	tuneNoSplit  = iota
	tuneSplitTMA // split-K over the TMA partial products
	tuneStreamK  // stream-K over the TMA partial products
	tuneSplitMMA // split-K over mma.sync's partial products (gemm_f16's, or GemmMMA4's own)
)

// tunePath returns the path ch takes for the product key describes, as
// gemmHalf's run would launch it.
func (d *Device) tunePath(ch GemmChoice, key tuneKey, celem int) tunePath {
	kern := d.gemmKernel(ch.Kernel, key.transA, key.transB, key.m, key.n, key.k)
	// Where the TMA store cannot write C, the TMA-store, cluster and
	// ping-pong kinds run the persistent kernels with the direct store.
	if !tmaStoreOK(key.cAligned, key.ldc, key.n, celem, key.beta) {
		switch kern {
		case GemmTMAStore, GemmTMACluster, GemmTMAPingpong, GemmTMAPingpong192:
			kern = GemmTMAPersistent
		}
	}
	if kern == GemmTMACluster && !clusterKernels(key.bf, key.transA) {
		kern = GemmTMAStore
	}
	bn, _ := tmaTile("", key.n) // the TMA kernels' tile width, before the narrow setting
	if d.splitsOnTMA(ch.Kernel, key.transA, key.transB) {
		tiles := ((key.m + 127) / 128) * ((key.n + bn - 1) / bn)
		if splits, _ := d.splitK(key.m, key.n, key.k, tiles, d.sms, 64); splits > 1 {
			// Every TMA kind splits over the same partial products.
			p := tunePath{kernel: GemmTMAPersistent, split: tuneSplitTMA}
			if _, ok := d.streamKPlanFor(key.transA, key.transB, key.m, key.n, key.k, bn, tiles, splits); ok && ch.StreamK {
				p.split = tuneStreamK
			}
			return p
		}
	}
	if !ch.Kernel.UsesTMA() {
		// mma.sync's split-K, whatever kind GemmAuto resolved to.
		tiles := ((key.m + gemmTile - 1) / gemmTile) * ((key.n + gemmTile - 1) / gemmTile)
		if splits, _ := d.splitK(key.m, key.n, key.k, tiles, 2*d.sms, 32); splits > 1 {
			if kern != GemmMMA4 {
				kern = GemmMMA
			}
			return tunePath{kernel: kern, split: tuneSplitMMA}
		}
	}
	p := tunePath{kernel: kern}
	switch kern {
	case GemmTMAStore, GemmTMACluster:
		p.sched = ch.scheduleFlags()
		p.narrow = ch.Narrow && bn != 192
		if kern == GemmTMAStore {
			p.deep = ch.DeepStore && deepStoreOK(storeTile(key.n, ch.Narrow), 1, key.flags)
		}
	case GemmTMAPersistent:
		p.sched = ch.scheduleFlags()
	case GemmTMAPingpong:
		// Its warpgroups take turns by design; its producer prefetches.
		p.sched = ch.scheduleFlags() & gemmPrefetch
	}
	return p
}

// tunedChoice returns the choice GemmTune makes for key, measuring it first
// when key is new: run(ch, c) launches the product into c. Each candidate
// writes into a scratch C (with key.beta, a copy of c0, the product's C,
// which the epilogue reads); the first is GemmAuto, whose result is the
// reference. A candidate whose launch fails without harming the context
// is refused and the others go on; a fault (the context lost) is an error.
// (The timed repeats then add to the scratch C again: the time is the same.)
func (d *Device) tunedChoice(key tuneKey, celem int, c0 *Buffer, run func(GemmChoice, *Buffer) error) (GemmChoice, error) {
	d.mu.Lock()
	t, ok := d.tuned[key]
	d.mu.Unlock()
	if ok {
		return t.Chose, nil
	}
	rows, cols := key.m, key.n
	bytes := int64((rows-1)*key.ldc+cols) * int64(celem)
	off := int64(c0.ptr % 16) // the product's C past a 16-byte boundary: its scratch twins too
	if !key.beta {
		c0 = nil
	}
	cands := d.gemmTuneCandidates()
	auto := cands[0]
	ref, freeRef, err := d.tuneRun(auto, bytes, off, c0, run)
	if err != nil {
		return auto, fmt.Errorf("%v: %w", auto, err)
	}
	defer freeRef()
	want, err := d.tuneRead(ref, key, celem)
	if err != nil {
		return auto, err
	}
	t = &GemmTuning{Shape: key.String(), Chose: auto, Timed: []GemmChoice{auto}, Ms: map[GemmChoice]float64{}, Rejected: map[GemmChoice]string{}}
	if t.Ms[auto], err = d.MedianMs(5, func() error { return run(auto, ref) }); err != nil {
		return auto, fmt.Errorf("%v: %w", auto, err)
	}
	// Choices that take the same path for this product (tunePath) are
	// timed once.
	tried := map[tunePath]bool{d.tunePath(auto, key, celem): true}
	for _, ch := range cands[1:] {
		p := d.tunePath(ch, key, celem)
		if tried[p] {
			continue
		}
		tried[p] = true
		c, free, err := d.tuneRun(ch, bytes, off, c0, run)
		if err != nil {
			if serr := d.Synchronize(); serr != nil {
				return auto, fmt.Errorf("%v: %w", ch, err) // a fault: the context is gone
			}
			t.Rejected[ch] = err.Error()
			continue
		}
		got, err := d.tuneRead(c, key, celem)
		if err != nil {
			free()
			return auto, err
		}
		if why := tuneCompare(got, want); why != "" {
			t.Rejected[ch] = tuneWrongResult + why
			free()
			continue
		}
		ms, err := d.MedianMs(5, func() error { return run(ch, c) })
		free()
		if err != nil {
			return auto, fmt.Errorf("%v: %w", ch, err)
		}
		t.Ms[ch] = ms
		t.Timed = append(t.Timed, ch)
		if ms < t.Ms[t.Chose] {
			t.Chose = ch
		}
	}
	d.mu.Lock()
	if d.tuned == nil {
		d.tuned = map[tuneKey]*GemmTuning{}
	}
	d.tuned[key] = t
	d.mu.Unlock()
	return t.Chose, nil
}

// tuneRun runs ch once into a fresh scratch C of the given size, a copy of
// c0 when c0 is not nil, and waits for it (the first launch also loads its
// module); free releases the scratch. The scratch starts off bytes past a
// 16-byte boundary, as the product's C does, so that each candidate takes
// the path it takes for the product (the TMA-store kernels write only a C
// that is 16-byte aligned).
func (d *Device) tuneRun(ch GemmChoice, bytes, off int64, c0 *Buffer, run func(GemmChoice, *Buffer) error) (c *Buffer, free func(), err error) {
	whole, err := d.Alloc(bytes + off)
	if err != nil {
		return nil, nil, err
	}
	c = whole.View(off, bytes)
	if c0 != nil {
		if err := c.CopyFrom(c0, bytes); err != nil {
			whole.Free()
			return nil, nil, err
		}
	}
	if err := run(ch, c); err != nil {
		whole.Free()
		return nil, nil, err
	}
	if err := d.Synchronize(); err != nil {
		whole.Free()
		return nil, nil, err
	}
	return c, whole.Free, nil
}

// tuneRows returns the rows of an m-row result that tuneRead compares:
// every fifth and the last (a wrong tile spans at least 64 rows; the host
// conversion of a whole ViT activation for every candidate would cost
// seconds).
func tuneRows(m int) []int {
	var rows []int
	for r := 0; r < m; r += 5 {
		rows = append(rows, r)
	}
	if rows[len(rows)-1] != m-1 {
		rows = append(rows, m-1)
	}
	return rows
}

// tuneRead downloads the m×n result in c (row stride ldc) and returns the
// rows tuneRows picks as float64s.
func (d *Device) tuneRead(c *Buffer, key tuneKey, celem int) ([]float64, error) {
	n := (key.m-1)*key.ldc + key.n
	rows := tuneRows(key.m)
	out := make([]float64, 0, len(rows)*key.n)
	if celem == 4 {
		v := make([]float32, n)
		if err := c.CopyToF32(v); err != nil {
			return nil, err
		}
		for _, r := range rows {
			for _, x := range v[r*key.ldc : r*key.ldc+key.n] {
				out = append(out, float64(x))
			}
		}
		return out, nil
	}
	h := make([]uint16, n)
	if err := c.CopyToU16(h); err != nil {
		return nil, err
	}
	conv := kernels.F16ToF32
	if key.bf {
		conv = kernels.BF16ToF32
	}
	for _, r := range rows {
		for _, x := range h[r*key.ldc : r*key.ldc+key.n] {
			out = append(out, float64(conv(x)))
		}
	}
	return out, nil
}

// GemmTunings lists what GemmTune has measured, by shape.
func (d *Device) GemmTunings() []GemmTuning {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]GemmTuning, 0, len(d.tuned))
	for _, t := range d.tuned {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b GemmTuning) int {
		if a.Shape < b.Shape {
			return -1
		}
		if a.Shape > b.Shape {
			return 1
		}
		return 0
	})
	return out
}
