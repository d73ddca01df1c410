package main

import (
	"fmt"
	"slices"
	"strings"
)

// gpuGroupNames are bench gpu's groups of benchmarks, in the order they
// run; -only names some of them (scripts/gpu/run.sh runs each in a process
// of its own). Without -only every group but train runs.
var gpuGroupNames = []string{"peak", "copy", "gemm", "mp", "ln", "attn", "tma", "tmas", "tmal", "tmapp", "streamk", "upload", "train"}

// checkGPUGroups returns an error naming the first group of the -only list
// only (comma-separated) that bench gpu does not have.
func checkGPUGroups(only string) error {
	if only == "" {
		return nil
	}
	for _, g := range strings.Split(only, ",") {
		if !slices.Contains(gpuGroupNames, g) {
			return fmt.Errorf("bench gpu -only: unknown group %q (groups: %s)", g, strings.Join(gpuGroupNames, ", "))
		}
	}
	return nil
}
