package kernels

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// findPtxas looks for NVIDIA's PTX assembler on PATH and in the folder
// shared/tools/cudatools installs it into.
func findPtxas() string {
	if p, err := exec.LookPath("ptxas"); err == nil {
		return p
	}
	home, _ := os.UserHomeDir()
	for _, pat := range []string{"bin/ptxas", "*/bin/ptxas"} {
		m, _ := filepath.Glob(filepath.Join(home, ".cache", "cudatools", pat))
		if len(m) > 0 {
			return m[0]
		}
	}
	return ""
}

func TestPTXSourcesMatch(t *testing.T) {
	if _, err := os.Stat("cuda"); err != nil {
		t.Skip("no kernels/cuda folder here (test binary run outside the source tree)")
	}
	srcs, _ := filepath.Glob("cuda/*.cu")
	if len(srcs) == 0 {
		t.Fatal("no CUDA sources in kernels/cuda")
	}
	have := map[string]bool{}
	for _, n := range PTXModules() {
		have[n] = true
	}
	for _, s := range srcs {
		n := strings.TrimSuffix(filepath.Base(s), ".cu")
		if !have[n] {
			t.Errorf("%s has no ptx/%s.ptx: run go generate ./kernels", s, n)
		}
		if _, err := PTX(n); err != nil {
			t.Error(err)
		}
	}
}

var (
	reEntry = regexp.MustCompile(`Compiling entry function '([^']+)' for '([^']+)'`)
	reFrame = regexp.MustCompile(`(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads`)
)

// TestPTXAssembles runs ptxas -v on every embedded module for each of its
// targets and fails on any error, warning, spill or stack frame. (A
// warning can hide a kernel that will not run as written: ptxas warns, for
// one, when it ignores a setmaxnreg, and then the producer warpgroups of
// the Hopper GEMMs keep their registers.) With MOCOGO_PTXAS_REPORT set it
// writes ptxas's resource line for every kernel (registers, shared
// memory) to that file, for .ci/run to print.
func TestPTXAssembles(t *testing.T) {
	ptxas := findPtxas()
	if ptxas == "" {
		t.Skip("ptxas not found on PATH or in ~/.cache/cudatools (run shared/tools/cudatools ptxas)")
	}
	if testing.Short() {
		t.Skip("ptxas checks take a few seconds; skipped with -short")
	}
	dir := t.TempDir()
	var (
		mu     sync.Mutex
		report []string
	)
	if path := os.Getenv("MOCOGO_PTXAS_REPORT"); path != "" {
		t.Cleanup(func() { // after every subtest, the parallel ones too
			slices.Sort(report)
			if err := os.WriteFile(path, []byte(strings.Join(report, "\n")+"\n"), 0o644); err != nil {
				t.Error(err)
			}
		})
	}
	for _, name := range PTXModules() {
		for _, arch := range PTXTargets(name) {
			t.Run(name+"/"+arch, func(t *testing.T) {
				// Each module on its own ptxas process, as many at once as
				// the test may run in parallel: the largest take tens of
				// seconds.
				t.Parallel()
				// Assemble the embedded text, so that a test binary run away
				// from the source tree checks what it would load.
				text, err := PTX(name)
				if err != nil {
					t.Fatal(err)
				}
				src := filepath.Join(dir, name+"."+arch+".ptx")
				if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(ptxas, "-arch="+arch, "-v", src, "-o", filepath.Join(dir, name+"."+arch+".cubin")).CombinedOutput()
				if err != nil {
					t.Fatalf("ptxas %s: %v\n%s", arch, err, out)
				}
				entry, n := "", 0
				for _, line := range strings.Split(string(out), "\n") {
					if strings.Contains(strings.ToLower(line), "warning") {
						t.Errorf("ptxas %s: %s", arch, strings.TrimSpace(line))
					}
					if m := reEntry.FindStringSubmatch(line); m != nil {
						entry = m[1]
						n++
					}
					if _, used, ok := strings.Cut(line, "Used "); ok {
						mu.Lock()
						report = append(report, fmt.Sprintf("%-28s %-6s %-40.40s Used %s", name, arch, entry, used))
						mu.Unlock()
					}
					if m := reFrame.FindStringSubmatch(line); m != nil {
						if m[1] != "0" || m[2] != "0" || m[3] != "0" {
							t.Errorf("%s: %s", entry, strings.TrimSpace(line))
						}
					}
				}
				if n == 0 {
					t.Errorf("ptxas reported no entry functions:\n%s", out)
				}
			})
		}
	}
}

var reEntryPTX = regexp.MustCompile(`(?s)\.visible \.entry (\w+)\(([^)]*)\)`)

// ptxEntries returns the parameter types and the body of every entry of a
// PTX module, by name.
func ptxEntries(t *testing.T, mod string) (params, bodies map[string]string) {
	t.Helper()
	text, err := PTX(mod)
	if err != nil {
		t.Fatal(err)
	}
	paramTypes := func(params string) string {
		var ts []string
		for _, p := range strings.Split(params, ",") {
			f := strings.Fields(p)
			if len(f) >= 2 {
				ts = append(ts, strings.Join(f[:len(f)-1], " "))
			}
		}
		return strings.Join(ts, ",")
	}
	params, bodies = map[string]string{}, map[string]string{}
	locs := reEntryPTX.FindAllStringSubmatchIndex(text, -1)
	for i, m := range locs {
		name := text[m[2]:m[3]]
		params[name] = paramTypes(text[m[4]:m[5]])
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		bodies[name] = text[m[1]:end]
	}
	return params, bodies
}

// TestPTXBF16Twins checks the bf16 instantiations of the GEMM and attention
// kernels against their fp16 twins without a GPU: every gemm_f16_* kernel
// (and gemm_splitk_reduce), but the fp16-only clusters of
// gemm_tma_store_sm90a, has a gemm_bf16_* twin, in the same module or in
// the module of that type, and every attn_* kernel of module attention an
// attn_*_bf16 twin in module attention_bf16, with the same parameter types;
// every bf16 kernel is such a twin; a module split by type holds only
// kernels of its own type; and the tensor-core instructions of each kernel
// are of its own type only (mma.sync/wgmma .f16.f16 in the fp16 kernels,
// .bf16.bf16 in the bf16 ones; the attention's row-dot kernels
// attn_bwd_dot_* have none).
func TestPTXBF16Twins(t *testing.T) {
	type pair struct {
		f16, bf16 string                   // the modules
		twin      func(name string) string // an fp16 kernel's bf16 twin, "" for none
		isBF16    func(name string) bool
		noMMA     func(name string) bool
	}
	gemmTwin := func(name string) string {
		switch {
		case strings.HasPrefix(name, "gemm_f16_"):
			return "gemm_bf16_" + strings.TrimPrefix(name, "gemm_f16_")
		case name == "gemm_splitk_reduce", name == "gemm_streamk_reduce":
			return name + "_bf16"
		}
		return ""
	}
	gemmBF16 := func(name string) bool {
		return strings.HasPrefix(name, "gemm_bf16_") || strings.HasSuffix(name, "_bf16")
	}
	storeTwin := func(name string) string {
		if strings.Contains(name, "_tma_c") {
			return "" // the clusters of two: fp16 only
		}
		return gemmTwin(name)
	}
	gemmNoMMA := func(name string) bool {
		return !strings.HasPrefix(name, "gemm_f16_") && !strings.HasPrefix(name, "gemm_bf16_")
	}
	pairs := []pair{
		{"gemm_f16", "gemm_bf16", gemmTwin, gemmBF16, gemmNoMMA},
		{"gemm_wide", "gemm_wide", gemmTwin, gemmBF16, gemmNoMMA},
		{"gemm_mma4", "gemm_mma4", gemmTwin, gemmBF16, gemmNoMMA},
		{"gemm_f16_sm90a", "gemm_bf16_sm90a", gemmTwin, gemmBF16, gemmNoMMA},
		{"gemm_f16_tma_sm90a", "gemm_bf16_tma_sm90a", gemmTwin, gemmBF16, gemmNoMMA},
		{"gemm_tma_store_sm90a", "gemm_bf16_tma_store_sm90a", storeTwin, gemmBF16, gemmNoMMA},
		{"gemm_pingpong_sm90a", "gemm_bf16_pingpong_sm90a", gemmTwin, gemmBF16, gemmNoMMA},
		{"gemm_streamk_sm90a", "gemm_streamk_sm90a", gemmTwin, gemmBF16, gemmNoMMA},
		{"gemm_mma_tma_sm90a", "gemm_mma_tma_sm90a", gemmTwin, gemmBF16, gemmNoMMA},
		{"gemm_tma_store_deep_sm90a", "gemm_tma_store_deep_sm90a", gemmTwin, gemmBF16, gemmNoMMA},
		{"gemm_splitk_cluster_sm90a", "gemm_splitk_cluster_sm90a", gemmTwin, gemmBF16, gemmNoMMA},
		{"attention", "attention_bf16",
			func(name string) string { return name + "_bf16" },
			func(name string) bool { return strings.HasSuffix(name, "_bf16") },
			func(name string) bool { return strings.HasPrefix(name, "attn_bwd_dot_") }},
	}
	for _, p := range pairs {
		fp, fb := ptxEntries(t, p.f16)
		bp, bb := fp, fb
		if p.bf16 != p.f16 {
			bp, bb = ptxEntries(t, p.bf16)
			for name := range fp {
				if p.isBF16(name) {
					t.Errorf("%s: bf16 kernel %s in the fp16 module", p.f16, name)
				}
			}
			for name := range bp {
				if !p.isBF16(name) {
					t.Errorf("%s: kernel %s in the bf16 module is not bf16", p.bf16, name)
				}
			}
		}
		twins, twinOf := 0, map[string]bool{}
		for name, params := range fp {
			twin := p.twin(name)
			if twin == "" || p.isBF16(name) {
				continue
			}
			tp, ok := bp[twin]
			if !ok {
				t.Errorf("%s: %s has no bf16 twin %s in %s", p.f16, name, twin, p.bf16)
				continue
			}
			if tp != params {
				t.Errorf("%s: %s takes (%s), its twin %s (%s)", p.f16, name, params, twin, tp)
			}
			twins++
			twinOf[twin] = true
		}
		for name := range bp {
			if p.isBF16(name) && !twinOf[name] {
				t.Errorf("%s: bf16 kernel %s is no fp16 kernel's twin", p.bf16, name)
			}
		}
		check := func(mod string, bodies map[string]string) {
			for name, body := range bodies {
				f16 := strings.Contains(body, ".f16.f16")
				bf16 := strings.Contains(body, ".bf16.bf16")
				switch {
				case p.noMMA(name):
					if f16 || bf16 {
						t.Errorf("%s: %s has tensor-core instructions", mod, name)
					}
				case !p.isBF16(name) && bf16, p.isBF16(name) && f16:
					t.Errorf("%s: %s has tensor-core instructions of the other type", mod, name)
				case p.isBF16(name) && !bf16, !p.isBF16(name) && !f16:
					t.Errorf("%s: %s has no tensor-core instruction of its type", mod, name)
				}
			}
		}
		check(p.f16, fb)
		if p.bf16 != p.f16 {
			check(p.bf16, bb)
		}
		if twins == 0 {
			t.Errorf("%s: no fp16 kernels found", p.f16)
		}
		t.Logf("%s: %d fp16 kernels, each with a bf16 twin in %s", p.f16, twins, p.bf16)
	}
}
