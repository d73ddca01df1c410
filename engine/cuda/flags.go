package cuda

// The GEMM kernels' epilogue flags, the GEMM_* defines of
// kernels/cuda/gemm_types.cuh (TestGemmFlagsMatchKernels compares them).
// They live outside the cuda build so that the comparison runs on every
// machine: a flag that drifted would leave a kernel branch silently unused
// (both epilogues store the same values, so no GPU test would notice).
const (
	gemmGELU   = 1
	gemmOutF16 = 2
	// gemmStaged (GEMM_STAGED) asks the mma.sync and wgmma kernels for
	// the staged epilogue (SetGemmStaged).
	gemmStaged = 4
	// gemmStagger (GEMM_STAGGER) asks the persistent TMA kernels to start
	// their second consumer warpgroup two k-tiles behind the first
	// (SetGemmStagger).
	gemmStagger = 8
	// gemmPrefetch (GEMM_PREFETCH) asks the producer of the persistent TMA
	// kernels to have L2 fetch A for the block's next tile as it starts a
	// tile (SetGemmPrefetch).
	gemmPrefetch = 16
	// gemmEarlyRelease (GEMM_EARLY_RELEASE) asks the consumers of the
	// persistent TMA kernels to release the previous k-tile's stage before
	// waiting for the next one (SetGemmEarlyRelease).
	gemmEarlyRelease = 32
	// gemmLookaheadShift (GEMM_LOOKAHEAD_SHIFT) places the two bits that
	// ask the producer of the split-K partials to have L2 fetch its share
	// of every tile's k-tiles 4, 8 or 16 past its ring (1, 2, 3; 0 off;
	// SetGemmLookahead).
	gemmLookaheadShift = 6
	gemmLookaheadMask  = 3 << gemmLookaheadShift
)

// lookaheadBits is the flag bits that ask for a look-ahead of k k-tiles
// (0, 4, 8 or 16; lookaheadOK).
func lookaheadBits(k int) int {
	switch k {
	case 4:
		return 1 << gemmLookaheadShift
	case 8:
		return 2 << gemmLookaheadShift
	case 16:
		return 3 << gemmLookaheadShift
	}
	return 0
}

// lookaheadOK reports whether k is a look-ahead the kernels take: 0 (off),
// 4, 8 or 16 k-tiles.
func lookaheadOK(k int) bool { return k == 0 || lookaheadBits(k) != 0 }
