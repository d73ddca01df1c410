package kernels

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
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
// targets and fails on any error, spill or stack frame.
func TestPTXAssembles(t *testing.T) {
	ptxas := findPtxas()
	if ptxas == "" {
		t.Skip("ptxas not found on PATH or in ~/.cache/cudatools (run shared/tools/cudatools ptxas)")
	}
	if testing.Short() {
		t.Skip("ptxas checks take a few seconds; skipped with -short")
	}
	dir := t.TempDir()
	for _, name := range PTXModules() {
		for _, arch := range PTXTargets(name) {
			t.Run(name+"/"+arch, func(t *testing.T) {
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
					if m := reEntry.FindStringSubmatch(line); m != nil {
						entry = m[1]
						n++
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
