//go:build cuda

package cuda

import (
	"regexp"
	"slices"
	"testing"

	"github.com/mocogo/mocogo/kernels"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPreloadParallel loads, into a context of its own, the modules of both
// types' training steps at once from Preload's worker threads, with a
// module that does not exist among them: the error names that one alone,
// every other module is loaded and has each of its kernels, and split-K
// weight gradients of both types (partials and reduce from the modules of
// their type) give, bit for bit, what another fresh context gives that
// loads its modules as kernels are first launched.
func TestPreloadParallel(t *testing.T) {
	d, err := Open()
	require.NoError(t, err)
	defer d.Close()
	lazy, err := Open()
	require.NoError(t, err)
	defer lazy.Close()
	// The same route in both, whatever MOCOGO_GEMM_KERNEL says (GemmTune
	// could time its candidates differently in each).
	d.SetGemmKernel(GemmAuto)
	lazy.SetGemmKernel(GemmAuto)
	var mods []string
	for _, m := range append(d.TrainingModules(false), d.TrainingModules(true)...) {
		if !slices.Contains(mods, m) {
			mods = append(mods, m)
		}
	}
	err = d.Preload(append([]string{"no_such_module"}, mods...)...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"no_such_module"`)
	for _, m := range mods {
		assert.NotContains(t, err.Error(), m)
	}
	entry := regexp.MustCompile(`(?m)^\.visible \.entry (\w+)\(`)
	for _, m := range mods {
		src, err := kernels.PTX(m)
		require.NoError(t, err)
		names := entry.FindAllStringSubmatch(src, -1)
		require.NotEmpty(t, names, m)
		require.NoError(t, d.do(func() error {
			if _, ok := d.mods[m]; !ok {
				t.Errorf("module %s not loaded", m)
				return nil
			}
			for _, n := range names {
				if _, err := d.function(m, n[1]); err != nil {
					return err
				}
			}
			return nil
		}))
	}

	r := newRand(t)
	const m, n, k = 384, 192, 50432 // split over K on every GPU
	for _, bf := range []bool{false, true} {
		var ah, bh []uint16
		isNaN := func(h uint16) bool { return h&0x7fff > 0x7c00 }
		nan := uint16(0x7e00)
		if bf {
			isNaN = func(h uint16) bool { return h&0x7fff > 0x7f80 }
			nan = 0x7fc0
			_, ah = randBF16(r, m*k)
			_, bh = randBF16(r, k*n)
		} else {
			_, ah = randF16(r, m*k)
			_, bh = randF16(r, k*n)
		}
		product := func(on *Device) []uint16 {
			a, err := on.AllocF16(m * k)
			require.NoError(t, err)
			defer a.Free()
			b, err := on.AllocF16(k * n)
			require.NoError(t, err)
			defer b.Free()
			c, err := on.AllocF16(m * n)
			require.NoError(t, err)
			defer c.Free()
			require.NoError(t, a.CopyFromU16(ah))
			require.NoError(t, b.CopyFromU16(bh))
			require.NoError(t, c.Fill16(nan))
			// C = Aᵀ·B with A stored K×M and B K×N: a weight gradient.
			if bf {
				require.NoError(t, on.GemmBF16(true, false, m, n, k, 1, a, m, b, n, 0, c, n, Epilogue{OutBF16: true}))
			} else {
				require.NoError(t, on.GemmF16(true, false, m, n, k, 1, a, m, b, n, 0, c, n, Epilogue{OutF16: true}))
			}
			out := make([]uint16, m*n)
			require.NoError(t, c.CopyToU16(out))
			return out
		}
		want, got := product(lazy), product(d)
		assert.Equal(t, want, got, "bf16 %v: the preloaded context's product differs from the lazily loaded one's", bf)
		for i, h := range got {
			if isNaN(h) {
				t.Fatalf("bf16 %v: element %d is NaN (not written)", bf, i)
			}
		}
	}
}
