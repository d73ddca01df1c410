package data

import "testing"

// requireAVX2 skips t where the AVX2 kernels cannot run.
func requireAVX2(t *testing.T) {
	t.Helper()
	if !useAVX2 {
		t.Skip("no AVX2 on this machine (or not amd64): the assembly kernels are not used")
	}
}

// withGoLoops runs f with the plain Go loops selected, then restores
// the AVX2 kernels.
func withGoLoops(f func()) {
	saved := useAVX2
	useAVX2 = false
	defer func() { useAVX2 = saved }()
	f()
}
