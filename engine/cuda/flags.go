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
)
