package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mocogo/mocogo/internal/cli"
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
	match := fs.String("match", "", "only the shapes whose \"layer M×N×K op\" matches this regular expression")
	pause := fs.Duration("pause", 300*time.Millisecond, "with -anchor and several threads, idle time before each run: OpenBLAS's threads spin for a while after a call and would slow the run after theirs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cli.CheckArgs(fs, args); err != nil {
		return fmt.Errorf("bench cpu: %w", err)
	}
	if *minRun <= 0 || *pause < 0 {
		return fmt.Errorf("bench cpu: -min-run %v must be positive and -pause %v not negative", *minRun, *pause)
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
	if *match != "" {
		re, err := regexp.Compile(*match)
		if err != nil {
			return fmt.Errorf("-match: %v", err)
		}
		shapes = slices.DeleteFunc(shapes, func(s gemmShape) bool { return !re.MatchString(s.name + " " + s.String()) })
		if len(shapes) == 0 {
			return fmt.Errorf("-match %q: no shapes", *match)
		}
	}
	script := ""
	if *anchor {
		var err error
		if script, err = findScript(numpyScript); err != nil {
			return err
		}
	}

	fmt.Printf("bench cpu: SGEMM %s, GOMAXPROCS %d, median of %d runs of at least %v each", kernels.SgemmImpl(), runtime.GOMAXPROCS(0), *runs, *minRun)
	if *anchor {
		fmt.Printf(", interleaved with numpy float32 matmul (%s, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset unless OpenBLAS's own choice lacks the CPU's widest vectors)", numpyScript)
	}
	fmt.Println()
	defer kernels.SetThreads(0)
	for _, t := range threads {
		kernels.SetThreads(t)
		var np *numpyServer
		if *anchor {
			var err error
			if np, err = startNumpy(*python, script, t); err != nil {
				return err
			}
		}
		fmt.Printf("\nthreads %d", t)
		if np != nil {
			fmt.Printf(", OpenBLAS core %s", np.core)
			if np.note != "" {
				fmt.Printf(" (%s)", np.note)
			}
		}
		fmt.Println()
		if np != nil {
			fmt.Printf("%-16s %-20s %10s %10s %7s\n", "layer", "M×N×K op", "ours", "OpenBLAS", "ratio")
		} else {
			fmt.Printf("%-16s %-20s %10s\n", "layer", "M×N×K op", "ours")
		}
		for _, s := range shapes {
			gap := time.Duration(0)
			if t > 1 {
				gap = *pause
			}
			ours, ref, err := timeShape(s, np, *runs, *minRun, gap)
			if err != nil {
				np.close()
				return err
			}
			if np != nil {
				fmt.Printf("%-16s %-20s %10.1f %10.1f %7.2f\n", s.name, s, ours, ref, ours/ref)
			} else {
				fmt.Printf("%-16s %-20s %10.1f\n", s.name, s, ours)
			}
		}
		if err := np.close(); err != nil {
			return err
		}
	}
	return nil
}

// timeShape returns the median GFLOP/s of kernels.Sgemm on s and, when np is
// not nil, of numpy on the same shape, the runs of the two interleaved so
// that both see the same load. Each run repeats the product for at least
// minRun. With np, each run follows a pause of gap.
func timeShape(s gemmShape, np *numpyServer, runs int, minRun, gap time.Duration) (ours, ref float64, err error) {
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
	oursRun := func(reps int) time.Duration {
		t0 := time.Now()
		for range reps {
			kernels.Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n)
		}
		return time.Since(t0)
	}
	oursRun(1) // warm up: packing buffers, worker pool, caches
	oursReps := repsFor(oursRun(1), minRun)
	npReps := 0
	if np != nil {
		if _, err := np.run(s, 1); err != nil {
			return 0, 0, err
		}
		d, err := np.run(s, 1)
		if err != nil {
			return 0, 0, err
		}
		npReps = repsFor(d, minRun)
	}
	var og, ng []float64
	for range runs {
		if np != nil {
			time.Sleep(gap)
		}
		og = append(og, s.flops()*float64(oursReps)/oursRun(oursReps).Seconds()/1e9)
		if np != nil {
			time.Sleep(gap)
			d, err := np.run(s, npReps)
			if err != nil {
				return 0, 0, err
			}
			ng = append(ng, s.flops()*float64(npReps)/d.Seconds()/1e9)
		}
	}
	ours = median(og)
	if np != nil {
		ref = median(ng)
	}
	return ours, ref, nil
}

func repsFor(once, minRun time.Duration) int {
	return max(1, int(minRun/max(once, time.Microsecond)))
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

// numpyServer is the numpy script in -serve mode: it times numpy float32
// matmul (OpenBLAS SGEMM) on request.
type numpyServer struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	core string // the OpenBLAS kernel family it runs
	note string // why OPENBLAS_CORETYPE is set, or ""
	errb bytes.Buffer
}

// startNumpy starts the script with OpenBLAS on t threads, in the
// environment anchorEnv gives it.
func startNumpy(python, script string, t int) (*numpyServer, error) {
	env, core, note, err := anchorEnv(python, script, t)
	if err != nil {
		return nil, err
	}
	np := &numpyServer{cmd: exec.Command(python, script, "-serve"), note: note}
	np.cmd.Env = env
	np.cmd.Stderr = &np.errb
	if np.in, err = np.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := np.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	np.out = bufio.NewScanner(stdout)
	if err := np.cmd.Start(); err != nil {
		return nil, err
	}
	line, err := np.line()
	if err != nil {
		return nil, err
	}
	if np.core, err = parseCoreLine(line, t); err != nil {
		np.close()
		return nil, fmt.Errorf("%s: %w", script, err)
	}
	if !strings.EqualFold(np.core, core) {
		// This OpenBLAS build lacks the kernels asked for: say which it runs.
		np.note = fmt.Sprintf("%s; asked for %s, this build runs %s", np.note, core, np.core)
	}
	return np, nil
}

func (np *numpyServer) line() (string, error) {
	if np.out.Scan() {
		return np.out.Text(), nil
	}
	if err := np.out.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("numpy script ended: %s", np.errb.String())
}

// run times reps numpy products of shape s.
func (np *numpyServer) run(s gemmShape, reps int) (time.Duration, error) {
	if _, err := fmt.Fprintf(np.in, "%d,%d,%d,%d,%d %d\n", s.m, s.n, s.k, b2i(s.transA), b2i(s.transB), reps); err != nil {
		return 0, err
	}
	line, err := np.line()
	if err != nil {
		return 0, err
	}
	sec, err := strconv.ParseFloat(line, 64)
	if err != nil {
		return 0, fmt.Errorf("numpy script: bad answer %q", line)
	}
	return time.Duration(sec * 1e9), nil
}

func (np *numpyServer) close() error {
	if np == nil {
		return nil
	}
	np.in.Close()
	if err := np.cmd.Wait(); err != nil {
		return fmt.Errorf("numpy script: %v: %s", err, np.errb.String())
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
