//go:build cuda

package cuda

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/mocogo/mocogo/kernels"
)

// These tests need a GPU: built with -tags cuda they run only where a CUDA
// driver and device exist (gorgonia.org/cu exits at start otherwise).

var dev *Device

func TestMain(m *testing.M) {
	var err error
	dev, err = Open()
	if err != nil {
		fmt.Fprintln(os.Stderr, "engine/cuda tests:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "engine/cuda tests on", dev)
	code := m.Run()
	fmt.Fprintf(os.Stderr, "allocator: %+v\n", dev.MemStats())
	dev.Close()
	os.Exit(code)
}

func newRand(t testing.TB) *rand.Rand {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0x6d6f636f))
}

// randF16 returns n uniform values in [-1,1) rounded to fp16, as float32
// and as fp16 bits.
func randF16(r *rand.Rand, n int) ([]float32, []uint16) {
	f := make([]float32, n)
	h := make([]uint16, n)
	for i := range f {
		h[i] = kernels.F32ToF16(float32(r.Float64()*2 - 1))
		f[i] = kernels.F16ToF32(h[i])
	}
	return f, h
}

// randBF16 is randF16 for bf16: values rounded to bf16 (nearest even), as
// float32 and as bf16 bits.
func randBF16(r *rand.Rand, n int) ([]float32, []uint16) {
	f := make([]float32, n)
	h := make([]uint16, n)
	for i := range f {
		h[i] = kernels.F32ToBF16(float32(r.Float64()*2 - 1))
		f[i] = kernels.BF16ToF32(h[i])
	}
	return f, h
}

func randF32(r *rand.Rand, n int, scale float64) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = float32((r.Float64()*2 - 1) * scale)
	}
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustAlloc(t testing.TB, bytes int64) *Buffer {
	t.Helper()
	b, err := dev.Alloc(bytes)
	must(t, err)
	t.Cleanup(b.Free)
	return b
}

func upload16(t testing.TB, h []uint16) *Buffer {
	t.Helper()
	b := mustAlloc(t, 2*int64(len(h)))
	must(t, b.CopyFromU16(h))
	return b
}

func upload32(t testing.TB, f []float32) *Buffer {
	t.Helper()
	b := mustAlloc(t, 4*int64(len(f)))
	must(t, b.CopyFromF32(f))
	return b
}

func download32(t testing.TB, b *Buffer, n int) []float32 {
	t.Helper()
	out := make([]float32, n)
	must(t, b.CopyToF32(out))
	return out
}

// errStats compares got with want: the relative error ‖got−want‖/‖want‖
// and the count of non-finite values in got.
func errStats(got []float32, want []float64) (rel float64, bad int) {
	var num, den float64
	for i, w := range want {
		g := float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			bad++
			continue
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	if den == 0 {
		return math.Sqrt(num), bad
	}
	return math.Sqrt(num / den), bad
}

// parallelRows runs fn(i) for i in [0,n) over all CPUs.
func parallelRows(n int, fn func(i int)) {
	w := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	var next int64
	var mu sync.Mutex
	for g := 0; g < w; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if int(i) >= n {
					return
				}
				fn(int(i))
			}
		}()
	}
	wg.Wait()
}

// checkRan fails t for each of kernels of module that no launch has looked
// up, so that a fallback taken everywhere cannot pass for the kernels a
// test is about. When -test.run picks subtests (a pattern with a '/', as
// run.sh's compute-sanitizer runs give), the cases that load some kernel
// may have been left out: then it only logs what did not run. module is
// the kernels' source module: a bf16 kernel is looked for in the module of
// its type (typedModule).
func checkRan(t *testing.T, module string, kernels ...string) {
	t.Helper()
	partial := strings.Contains(flag.Lookup("test.run").Value.String(), "/")
	for _, k := range kernels {
		module := typedModule(module, bf16Kernel(k))
		switch {
		case dev.loaded(module, k):
		case partial:
			t.Logf("kernel %s.%s did not run (-test.run picks subtests)", module, k)
		default:
			t.Errorf("kernel %s.%s never ran", module, k)
		}
	}
}

// loaded reports whether kernel of module has been looked up for a launch.
func (d *Device) loaded(module, kernel string) bool {
	var ok bool
	d.do(func() error {
		_, ok = d.funcs[module+"."+kernel]
		return nil
	})
	return ok
}
