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

// tunedChoice returns the choice GemmTune makes for key, measuring it first
// when key is new: route(ch) is what ch launches for the product, and
// run(rt, c) launches a route into c. Each candidate (tuneCandidates)
// whose route no earlier one took writes into a scratch C (with key.beta,
// a copy of c0, the product's C, which the epilogue reads); the first is
// GemmAuto, whose result is the reference. A candidate whose launch fails
// without harming the context is refused and the others go on; a fault
// (the context lost) is an error. (The timed repeats then add to the
// scratch C again: the time is the same.)
func (d *Device) tunedChoice(key tuneKey, route func(GemmChoice) gemmRoute, c0 *Buffer, run func(gemmRoute, *Buffer) error) (GemmChoice, error) {
	d.mu.Lock()
	t, ok := d.tuned[key]
	d.mu.Unlock()
	if ok {
		return t.Chose, nil
	}
	celem := 4
	if key.flags&gemmOutF16 != 0 {
		celem = 2
	}
	rows, cols := key.m, key.n
	bytes := int64((rows-1)*key.ldc+cols) * int64(celem)
	off := int64(c0.ptr % 16) // the product's C past a 16-byte boundary: its scratch twins too
	if !key.beta {
		c0 = nil
	}
	cands := d.router().tuneCandidates()
	auto := cands[0]
	ref, freeRef, err := d.tuneRun(route(auto), bytes, off, c0, run)
	if err != nil {
		return auto, fmt.Errorf("%v: %w", auto, err)
	}
	defer freeRef()
	want, err := d.tuneRead(ref, key, celem)
	if err != nil {
		return auto, err
	}
	t = &GemmTuning{Shape: key.String(), Chose: auto, Timed: []GemmChoice{auto}, Ms: map[GemmChoice]float64{}, Rejected: map[GemmChoice]string{}}
	if t.Ms[auto], err = d.MedianMs(5, func() error { return run(route(auto), ref) }); err != nil {
		return auto, fmt.Errorf("%v: %w", auto, err)
	}
	// Choices with the same route for this product are timed once.
	tried := map[gemmRoute]bool{route(auto): true}
	for _, ch := range cands[1:] {
		rt := route(ch)
		if tried[rt] {
			continue
		}
		tried[rt] = true
		c, free, err := d.tuneRun(rt, bytes, off, c0, run)
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
		ms, err := d.MedianMs(5, func() error { return run(rt, c) })
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

// tuneRun runs rt once into a fresh scratch C of the given size, a copy of
// c0 when c0 is not nil, and waits for it (the first launch also loads its
// module); free releases the scratch. The scratch starts off bytes past a
// 16-byte boundary, as the product's C does, whose alignment rt assumed
// (the TMA-store kernels write only a C that is 16-byte aligned).
func (d *Device) tuneRun(rt gemmRoute, bytes, off int64, c0 *Buffer, run func(gemmRoute, *Buffer) error) (c *Buffer, free func(), err error) {
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
	if err := run(rt, c); err != nil {
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
