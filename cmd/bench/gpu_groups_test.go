package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunShNamesKnownGroups checks every bench group that
// scripts/gpu/run.sh asks bench gpu for (its bench_groups lists, its
// literal -only arguments and the groups of its Nsight Compute table)
// against bench gpu's own list: a name missing there costs a GPU call the
// group's numbers (the sixth session's tmapp group was refused this way).
func TestRunShNamesKnownGroups(t *testing.T) {
	src, err := os.ReadFile("../../scripts/gpu/run.sh")
	require.NoError(t, err)
	text := string(src)
	var named []string
	for _, m := range regexp.MustCompile(`(?m)^\s*bench_groups="([^"]*)"`).FindAllStringSubmatch(text, -1) {
		named = append(named, strings.Fields(m[1])...)
	}
	for _, m := range regexp.MustCompile(`-only ([a-z][a-z,]*)`).FindAllStringSubmatch(text, -1) {
		named = append(named, strings.Split(m[1], ",")...)
	}
	_, table, ok := strings.Cut(text, "done <<'EOF'\n")
	require.True(t, ok, "run.sh's Nsight Compute table not found")
	table, _, _ = strings.Cut(table, "\nEOF")
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			named = append(named, f[1])
		}
	}
	require.Greater(t, len(named), 10, "too few group names found in run.sh: the patterns no longer match it")
	for _, g := range named {
		assert.NoError(t, checkGPUGroups(g), "run.sh names group %q", g)
	}
	assert.Error(t, checkGPUGroups("gemm,nosuch"))
}
