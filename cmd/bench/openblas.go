package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// The OpenBLAS kernel families ("cores") that use each vector instruction
// set, by the names openblas_get_corename returns.
var (
	openblasAVX512Cores = []string{"SkylakeX", "Cooperlake", "SapphireRapids"}
	openblasAVX2Cores   = append([]string{"Haswell", "Zen"}, openblasAVX512Cores...)
)

// anchorEnv is the environment an OpenBLAS anchor (numpy, or PyTorch built on
// it) runs in with t threads, and the OpenBLAS core it will run.
//
// OpenBLAS picks its kernels from the CPU's model number, so a release older
// than the CPU falls back to a generic core: Debian 12's 0.3.21 runs its SSE3
// "Prescott" kernels on an Emerald Rapids Xeon, at a fifth of its AVX-512
// speed. An anchor that slow flatters whatever is set beside it. So the
// variables that steer OpenBLAS are cleared, OpenBLAS is asked what it picks
// for this CPU (numpy_sgemm.py -core), and where its choice lacks a vector
// instruction set the CPU has, OPENBLAS_CORETYPE names the family that uses
// it. note says when that happened.
func anchorEnv(python, script string, t int) (env []string, core, note string, err error) {
	env = plainAnchorEnv(t)
	probe := exec.Command(python, script, "-core")
	probe.Env = env
	out, err := probe.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, "", "", fmt.Errorf("%s -core: %v: %s", script, err, ee.Stderr)
		}
		return nil, "", "", fmt.Errorf("%s -core: %w", script, err)
	}
	detected, err := parseCoreLine(strings.TrimSpace(string(out)), t)
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: %w", script, err)
	}
	if want := betterOpenBLASCore(detected, cpuHasAVX512(), cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3), cpuid.CPU.Supports(cpuid.AVX512BF16)); want != "" {
		env = append(env, "OPENBLAS_CORETYPE="+want)
		return env, want, fmt.Sprintf("OPENBLAS_CORETYPE=%s: OpenBLAS picks %s on this CPU", want, detected), nil
	}
	return env, detected, "", nil
}

// plainAnchorEnv is this process's environment without the variables that
// steer OpenBLAS, and with t threads for OpenBLAS and OpenMP.
func plainAnchorEnv(t int) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "OPENBLAS_NUM_THREADS="+strconv.Itoa(t), "OMP_NUM_THREADS="+strconv.Itoa(t))
}

// errNoOpenBLAS says that the anchor's Python cannot load OpenBLAS.
var errNoOpenBLAS = errors.New("this Python cannot load OpenBLAS (libopenblas.so.0; Debian: apt-get install libopenblas0-pthread)")

// parseCoreLine reads numpy_sgemm.py's first line, "# core NAME threads T",
// and checks that OpenBLAS is loaded and runs t threads.
func parseCoreLine(line string, t int) (core string, err error) {
	f := strings.Fields(line)
	if len(f) != 5 || f[1] != "core" {
		return "", fmt.Errorf("unexpected first line %q", line)
	}
	if f[2] == "unknown" {
		return "", errNoOpenBLAS
	}
	if f[4] != strconv.Itoa(t) {
		return "", fmt.Errorf("OpenBLAS runs %s threads, want %d", f[4], t)
	}
	return f[2], nil
}

// betterOpenBLASCore is the OpenBLAS core to ask for instead of detected, or
// "" where detected already uses the widest vector instructions the CPU has.
func betterOpenBLASCore(detected string, avx512, avx2fma, avx512bf16 bool) string {
	has := func(cores []string) bool {
		for _, c := range cores {
			if strings.EqualFold(c, detected) {
				return true
			}
		}
		return false
	}
	switch {
	case avx512 && !has(openblasAVX512Cores):
		if avx512bf16 {
			return "Cooperlake"
		}
		return "SkylakeX"
	case !avx512 && avx2fma && !has(openblasAVX2Cores):
		return "Haswell"
	}
	return ""
}

// cpuHasAVX512 says whether the CPU has the AVX-512 subsets OpenBLAS's
// SkylakeX kernels use.
func cpuHasAVX512() bool {
	return cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512DQ, cpuid.AVX512VL)
}
