package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mocogo/mocogo/kernels"
)

// gemmShape is one SGEMM timed by bench cpu: C (m×n) = op(A)·op(B), depth k.
type gemmShape struct {
	name           string
	m, n, k        int
	transA, transB bool
}

func (s gemmShape) String() string {
	t := "NN"
	switch {
	case s.transA && s.transB:
		t = "TT"
	case s.transA:
		t = "TN"
	case s.transB:
		t = "NT"
	}
	return fmt.Sprintf("%dx%dx%d %s", s.m, s.n, s.k, t)
}

func (s gemmShape) flops() float64 { return 2 * float64(s.m) * float64(s.n) * float64(s.k) }

// cpuShapes are the square sizes and the ViT linear layers: M = batch·tokens
// (128·65 for 64-pixel images in 8-pixel patches plus the class token,
// 256·197 for 224-pixel images in 16-pixel patches), K and N the widths of
// ViT-Tiny (192) and ViT-Small (384) and their 3× and 4× expansions; the
// transposed ones are the gradients of a layer (dX = dY·Wᵀ, dW = Xᵀ·dY).
func cpuShapes(quick bool) []gemmShape {
	s := []gemmShape{
		{name: "square", m: 256, n: 256, k: 256},
		{name: "square", m: 512, n: 512, k: 512},
		{name: "square", m: 1024, n: 1024, k: 1024},
		{name: "square", m: 2048, n: 2048, k: 2048},
		{name: "vit-t qkv", m: 8320, n: 576, k: 192},
		{name: "vit-t mlp1", m: 8320, n: 768, k: 192},
		{name: "vit-t mlp2", m: 8320, n: 192, k: 768},
		{name: "vit-s qkv", m: 8320, n: 1152, k: 384},
		{name: "vit-s mlp1", m: 8320, n: 1536, k: 384},
		{name: "vit-s mlp2", m: 8320, n: 384, k: 1536},
		{name: "vit-s mlp2 dX", m: 8320, n: 1536, k: 384, transB: true},
		{name: "vit-s mlp2 dW", m: 1536, n: 384, k: 8320, transA: true},
		{name: "vit-s qkv b256", m: 50432, n: 1152, k: 384},
		{name: "vit-s mlp2 b256", m: 50432, n: 384, k: 1536},
	}
	if quick {
		s = slices.DeleteFunc(s, func(g gemmShape) bool { return g.flops() > 2e10 })
	}
	return s
}

func runCPU(args []string) error {
	fs := flag.NewFlagSet("bench cpu", flag.ContinueOnError)
	threadsFlag := fs.String("threads", fmt.Sprintf("1,%d", runtime.NumCPU()), "comma-separated thread counts")
	runs := fs.Int("runs", 5, "timed runs per shape; the median is printed")
	minRun := fs.Duration("min-run", 100*time.Millisecond, "shortest timed run: small shapes repeat the product within a run")
	anchor := fs.Bool("anchor", false, "also time numpy float32 a @ b (OpenBLAS) with "+numpyScript+" and print ours/OpenBLAS")
	python := fs.String("python", "/usr/bin/python3", "Python with numpy, for -anchor")
	quick := fs.Bool("quick", false, "skip the shapes over 20 GFLOP")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var threads []int
	for _, f := range strings.Split(*threadsFlag, ",") {
		t, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || t < 1 {
			return fmt.Errorf("bad -threads %q", *threadsFlag)
		}
		threads = append(threads, t)
	}
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	shapes := cpuShapes(*quick)
	script := ""
	if *anchor {
		var err error
		if script, err = findScript(numpyScript); err != nil {
			return err
		}
	}

	fmt.Printf("bench cpu: %s, GOMAXPROCS %d, median of %d runs of at least %v each\n", "SGEMM "+kernels.SgemmImpl(), runtime.GOMAXPROCS(0), *runs, *minRun)
	defer kernels.SetThreads(0)
	for _, t := range threads {
		kernels.SetThreads(t)
		ours := make([]float64, len(shapes))
		for i, s := range shapes {
			ours[i] = timeOurs(s, *runs, *minRun)
		}
		var ref []float64
		core := ""
		if *anchor {
			var err error
			ref, core, err = timeNumpy(*python, script, t, shapes, *runs, *minRun)
			if err != nil {
				return err
			}
		}
		fmt.Printf("\nthreads %d", t)
		if *anchor {
			fmt.Printf(", OpenBLAS core %s", core)
		}
		fmt.Println()
		if *anchor {
			fmt.Printf("%-16s %-20s %10s %10s %7s\n", "layer", "M×N×K op", "ours", "OpenBLAS", "ratio")
		} else {
			fmt.Printf("%-16s %-20s %10s\n", "layer", "M×N×K op", "ours")
		}
		for i, s := range shapes {
			if *anchor {
				fmt.Printf("%-16s %-20s %10.1f %10.1f %7.2f\n", s.name, s, ours[i], ref[i], ours[i]/ref[i])
			} else {
				fmt.Printf("%-16s %-20s %10.1f\n", s.name, s, ours[i])
			}
		}
	}
	return nil
}

// timeOurs returns the median GFLOP/s of kernels.Sgemm on s over runs runs,
// each repeating the product for at least minRun.
func timeOurs(s gemmShape, runs int, minRun time.Duration) float64 {
	a := make([]float32, s.m*s.k)
	b := make([]float32, s.k*s.n)
	c := make([]float32, s.m*s.n)
	for i := range a {
		a[i] = float32(i%17)*0.01 - 0.08
	}
	for i := range b {
		b[i] = float32(i%13)*0.01 - 0.06
	}
	lda, ldb := s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	call := func() {
		kernels.Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n)
	}
	call() // warm up: packing buffers, worker pool, caches
	t0 := time.Now()
	call()
	reps := max(1, int(minRun/max(time.Since(t0), time.Microsecond)))
	gf := make([]float64, runs)
	for r := range gf {
		t0 := time.Now()
		for range reps {
			call()
		}
		gf[r] = s.flops() * float64(reps) / time.Since(t0).Seconds() / 1e9
	}
	return median(gf)
}

func median(x []float64) float64 {
	y := slices.Clone(x)
	slices.Sort(y)
	return y[len(y)/2]
}

const numpyScript = "scripts/bench/numpy_sgemm.py"

// findScript looks for rel in the working directory and its parents, so that
// bench runs from anywhere in the repository.
func findScript(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found from the working directory up", rel)
		}
		dir = parent
	}
}

// timeNumpy runs the numpy script over the shapes with OpenBLAS on t threads
// and returns its GFLOP/s per shape and the OpenBLAS core it reports.
// OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from its environment so
// that OpenBLAS picks its kernels for this CPU as it would by default.
func timeNumpy(python, script string, t int, shapes []gemmShape, runs int, minRun time.Duration) ([]float64, string, error) {
	args := []string{script, "-runs", strconv.Itoa(runs), "-min-run", strconv.FormatFloat(minRun.Seconds(), 'g', -1, 64)}
	for _, s := range shapes {
		args = append(args, fmt.Sprintf("%d,%d,%d,%d,%d", s.m, s.n, s.k, b2i(s.transA), b2i(s.transB)))
	}
	cmd := exec.Command(python, args...)
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS":
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(env, "OPENBLAS_NUM_THREADS="+strconv.Itoa(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %v: %s", script, err, stderr.String())
	}
	core := "unknown"
	var gf []float64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == "#" && f[1] == "core" {
			core = f[2]
			if len(f) >= 5 && f[4] != strconv.Itoa(t) {
				return nil, "", fmt.Errorf("OpenBLAS reports %s threads, want %d", f[4], t)
			}
			continue
		}
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return nil, "", fmt.Errorf("%s: bad line %q", script, sc.Text())
		}
		gf = append(gf, v)
	}
	if len(gf) != len(shapes) {
		return nil, "", fmt.Errorf("%s: %d results for %d shapes: %s", script, len(gf), len(shapes), out)
	}
	return gf, core, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
