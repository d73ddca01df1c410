package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBadArgs: flags no benchmark can run with, and words left after the
// flags, are refused before any work (-steps 0 once indexed an empty
// list of times).
func TestBadArgs(t *testing.T) {
	for _, tc := range []struct {
		run  func([]string) error
		args []string
		want string
	}{
		{runTrain, []string{"-steps", "0"}, "-steps 0 must be at least 1"},
		{runTrain, []string{"-steps", "-1"}, "-steps -1"},
		{runTrain, []string{"-warmup", "-1"}, "-warmup -1 not negative"},
		{runTrain, []string{"extra"}, `unexpected argument "extra"`},
		{runCPU, []string{"extra"}, `unexpected argument "extra"`},
		{runCPU, []string{"-min-run", "-1s"}, "-min-run -1s must be positive"},
		{runCPU, []string{"-pause", "-1s"}, "-pause -1s not negative"},
	} {
		require.ErrorContains(t, tc.run(tc.args), tc.want, "%v", tc.args)
	}
}
