//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// GemmKernels lists every GemmKernel, the default first.
var GemmKernels = []GemmKernel{GemmAuto, GemmMMA, GemmWGMMA128, GemmWGMMA256, GemmTMA, GemmTMAPersistent, GemmMMAWide, GemmTMAStore, GemmTMACluster, GemmMMA4, GemmTune, GemmTMAPingpong, GemmTMAPingpong192, GemmMMATMA, GemmMMATMAPersistent, GemmMMATMAPolled}

// applyEnv applies the kernel choices given in the environment, so that a
// whole program (a training step, pretrain) can be run with a kernel that is
// not the default, without a rebuild:
//
//	MOCOGO_GEMM_KERNEL   a GemmKernel by name (auto, mma, wgmma128, wgmma256,
//	                     tma, tmap, mmaw, tmas, tmac, mma4, tune, tmapp,
//	                     tmapp192, mmatma, mmatmap, mmatmal):
//	                     SetGemmKernel
//	MOCOGO_ATTN_KERNEL   an AttentionKernel by name (auto, tiled, head,
//	                     headalt):
//	                     SetAttentionKernel
//	MOCOGO_GEMM_LOOKAHEAD  k-tiles the split-K partials ask L2 for past
//	                     their ring (0, 4, 8 or 16): SetGemmLookahead
//
// An unknown name, a kernel the device cannot run, or another look-ahead
// is an error.
func (d *Device) applyEnv() error {
	if v := os.Getenv("MOCOGO_GEMM_KERNEL"); v != "" {
		k, err := lookupKernel("MOCOGO_GEMM_KERNEL", v, GemmKernels)
		if err != nil {
			return err
		}
		if !d.SetGemmKernel(k) {
			return fmt.Errorf("cuda: MOCOGO_GEMM_KERNEL=%s: %s (compute capability %d.%d) cannot run it", v, d.name, d.major, d.minor)
		}
	}
	if v := os.Getenv("MOCOGO_ATTN_KERNEL"); v != "" {
		k, err := lookupKernel("MOCOGO_ATTN_KERNEL", v, AttentionKernels)
		if err != nil {
			return err
		}
		d.SetAttentionKernel(k)
	}
	if v := os.Getenv("MOCOGO_GEMM_LOOKAHEAD"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || !lookaheadOK(k) {
			return fmt.Errorf("cuda: MOCOGO_GEMM_LOOKAHEAD=%q: want 0, 4, 8 or 16 (k-tiles)", v)
		}
		d.SetGemmLookahead(k)
	}
	return nil
}

// lookupKernel finds the kernel of the given name among all.
func lookupKernel[K fmt.Stringer](env, name string, all []K) (K, error) {
	var names []string
	for _, k := range all {
		if k.String() == name {
			return k, nil
		}
		names = append(names, k.String())
	}
	var zero K
	return zero, fmt.Errorf("cuda: %s=%q: want one of %s", env, name, strings.Join(names, ", "))
}
