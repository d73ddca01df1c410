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
	flags              int  // gemmGELU, gemmOutF16, and the settings gemmStaged, gemmStagger, gemmPrefetch
	bias, cAligned     bool // a bias; C 16-byte aligned (the TMA store needs it)
	beta               bool // beta ≠ 0: C is read (a residual added in the epilogue)
	streamK            bool // SetGemmStreamK: the weight gradients' split path
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

// GemmTuning is GemmTune's measurement of one product shape: the kind it
// chose, each candidate's median milliseconds, and the candidates it
// refused with the reason (a result that differs from GemmAuto's, or a
// launch the device refused).
type GemmTuning struct {
	Shape    string // layout, type and m×n×k, e.g. "nt f16 50432×1152×384"
	Chose    GemmKernel
	Ms       map[GemmKernel]float64
	Rejected map[GemmKernel]string
}

// gemmTuneCandidates are the kinds GemmTune tries, GemmAuto first (the
// reference the others must agree with).
func (d *Device) gemmTuneCandidates() []GemmKernel {
	if d.major == 9 && d.minor == 0 {
		return []GemmKernel{GemmAuto, GemmMMA, GemmMMA4, GemmWGMMA128, GemmTMAPersistent, GemmTMAStore, GemmTMACluster}
	}
	return []GemmKernel{GemmAuto, GemmMMA4, GemmMMAWide}
}

// tunedKernel returns the kind GemmTune uses for key, measuring it first
// when key is new: run(kind, c) launches the product into c. Each candidate
// writes into a scratch C (with key.beta, a copy of c0, the product's C,
// which the epilogue reads); the first is GemmAuto, whose result is the
// reference. A candidate whose launch fails without harming the context
// is refused and the others go on; a fault (the context lost) is an error.
// (The timed repeats then add to the scratch C again: the time is the same.)
func (d *Device) tunedKernel(key tuneKey, celem int, c0 *Buffer, run func(GemmKernel, *Buffer) error) (GemmKernel, error) {
	d.mu.Lock()
	t, ok := d.tuned[key]
	d.mu.Unlock()
	if ok {
		return t.Chose, nil
	}
	rows, cols := key.m, key.n
	bytes := int64((rows-1)*key.ldc+cols) * int64(celem)
	if !key.beta {
		c0 = nil
	}
	ref, err := d.tuneRun(GemmAuto, bytes, c0, run)
	if err != nil {
		return GemmAuto, fmt.Errorf("GemmAuto: %w", err)
	}
	defer ref.Free()
	want, err := d.tuneRead(ref, key, celem)
	if err != nil {
		return GemmAuto, err
	}
	t = &GemmTuning{Shape: key.String(), Chose: GemmAuto, Ms: map[GemmKernel]float64{}, Rejected: map[GemmKernel]string{}}
	if t.Ms[GemmAuto], err = d.MedianMs(5, func() error { return run(GemmAuto, ref) }); err != nil {
		return GemmAuto, fmt.Errorf("GemmAuto: %w", err)
	}
	// Kinds that take the same path for this product are timed once: the
	// kernel they launch (the wgmma kernels serve only NT; GemmAuto resolves
	// to one of the others; the TMA-store kinds take GemmTMAPersistent's
	// kernels unless C is 16-byte aligned, as the scratch outputs are, with
	// rows ending on 16-byte boundaries and beta 0, and for a C that is not
	// aligned they would be timed on a path the product does not take) and
	// whether weight gradients split over the TMA kernels.
	storeOK := tmaStoreOK(key.cAligned, key.ldc, key.n, celem, key.beta)
	type path struct {
		kernel   GemmKernel
		tmaSplit bool
	}
	pathOf := func(k GemmKernel) path {
		kern := d.gemmKernel(k, key.transA, key.transB, key.m, key.n, key.k)
		if (kern == GemmTMAStore || kern == GemmTMACluster) && !storeOK {
			kern = GemmTMAPersistent
		}
		autoDW := k == GemmAuto && key.transA && !key.transB && d.major == 9 && d.minor == 0 && !d.noTMASplitDW
		return path{kern, autoDW || kern.UsesTMA()}
	}
	tried := map[path]bool{pathOf(GemmAuto): true}
	for _, kind := range d.gemmTuneCandidates()[1:] {
		if (kind == GemmTMAStore || kind == GemmTMACluster) && !key.cAligned {
			continue
		}
		p := pathOf(kind)
		if tried[p] {
			continue
		}
		tried[p] = true
		c, err := d.tuneRun(kind, bytes, c0, run)
		if err != nil {
			if serr := d.Synchronize(); serr != nil {
				return GemmAuto, fmt.Errorf("%v: %w", kind, err) // a fault: the context is gone
			}
			t.Rejected[kind] = err.Error()
			continue
		}
		got, err := d.tuneRead(c, key, celem)
		if err != nil {
			c.Free()
			return GemmAuto, err
		}
		if why := tuneCompare(got, want); why != "" {
			t.Rejected[kind] = why
			c.Free()
			continue
		}
		ms, err := d.MedianMs(5, func() error { return run(kind, c) })
		c.Free()
		if err != nil {
			return GemmAuto, fmt.Errorf("%v: %w", kind, err)
		}
		t.Ms[kind] = ms
		if ms < t.Ms[t.Chose] {
			t.Chose = kind
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

// tuneRun runs kind once into a fresh scratch C of the given size, a copy
// of c0 when c0 is not nil, and waits for it (the first launch also loads
// its module).
func (d *Device) tuneRun(kind GemmKernel, bytes int64, c0 *Buffer, run func(GemmKernel, *Buffer) error) (*Buffer, error) {
	c, err := d.Alloc(bytes)
	if err != nil {
		return nil, err
	}
	if c0 != nil {
		if err := c.CopyFrom(c0, bytes); err != nil {
			c.Free()
			return nil, err
		}
	}
	if err := run(kind, c); err != nil {
		c.Free()
		return nil, err
	}
	if err := d.Synchronize(); err != nil {
		c.Free()
		return nil, err
	}
	return c, nil
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
