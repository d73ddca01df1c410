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
	// gemmKAheadShift (GEMM_KAHEAD_SHIFT) is where the two bits of the
	// split-K partials' L2 look-ahead start (SetGemmKAhead): 1, 2 or 3 for
	// 4, 8 or 16 k-tiles past the producer's ring.
	gemmKAheadShift = 5
)

// kaheadFlags is the kernels' flag bits for a look-ahead of tiles k-tiles
// (0, 4, 8 or 16; validKAhead).
func kaheadFlags(tiles int) int {
	switch tiles {
	case 4:
		return 1 << gemmKAheadShift
	case 8:
		return 2 << gemmKAheadShift
	case 16:
		return 3 << gemmKAheadShift
	}
	return 0
}

// validKAhead reports whether tiles is a look-ahead the kernels take.
func validKAhead(tiles int) bool { return tiles == 0 || kaheadFlags(tiles) != 0 }
