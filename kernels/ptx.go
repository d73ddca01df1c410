package kernels

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// The GPU kernels are CUDA C sources in cuda/ compiled to PTX in ptx/ by
// scripts/gpu/genptx.sh; the PTX is committed and embedded here so that a Go
// build needs no CUDA toolchain. The CUDA backend (engine/cuda) loads it with
// the driver, which compiles it for the GPU at hand.
//
//go:generate ../scripts/gpu/genptx.sh

//go:embed ptx/*.ptx
var ptxFiles embed.FS

// PTX returns the PTX source of the named module ("gemm_f16" for
// ptx/gemm_f16.ptx).
func PTX(name string) (string, error) {
	b, err := ptxFiles.ReadFile("ptx/" + name + ".ptx")
	if err != nil {
		return "", fmt.Errorf("kernels: no PTX module %q", name)
	}
	return string(b), nil
}

// PTXModules lists the embedded PTX modules by name, sorted.
func PTXModules() []string {
	ents, _ := fs.ReadDir(ptxFiles, "ptx")
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), path.Ext(e.Name())))
	}
	sort.Strings(names)
	return names
}

// PTXTargets returns the GPU architectures a module is meant for: modules
// whose name ends in _sm90a use Hopper-only instructions; the others are
// sm_80 PTX that runs on Ampere and every later GPU.
func PTXTargets(name string) []string {
	if strings.HasSuffix(name, "_sm90a") {
		return []string{"sm_90a"}
	}
	return []string{"sm_80", "sm_90"}
}
