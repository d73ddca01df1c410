package cuda

// The TMA GEMM kernels' tile and store rules, outside the cuda build so
// that their tests run on every machine.

// tmaStoreOK reports whether the TMA-store kernels can write C (elements of
// celem bytes, row stride ldc, n columns): C 16-byte aligned, its rows
// starting and ending on 16-byte boundaries, and beta 0 (they do not read
// C). The TMA unit stores whole 16-byte pieces: past a row end that is not
// on a 16-byte boundary it would write up to the next one (seen on an H100,
// fifth session; Triton issue 11583), over the padding or a neighbouring
// view's columns.
func tmaStoreOK(cAligned bool, ldc, n, celem int, beta bool) bool {
	return cAligned && ldc*celem%16 == 0 && n*celem%16 == 0 && !beta
}

// tmaTile picks the TMA kernels' tile width for n: 192 where it wastes less
// of the last column of tiles than 256 (n = 384, 1152), else 256; and the
// kernel name for the layout prefix name (gemm_f16_<a><b>).
func tmaTile(name string, n int) (int, string) {
	if (n+191)/192*192 < (n+255)/256*256 {
		return 192, name + "_tma_p192"
	}
	return 256, name + "_tma_p"
}

// storeTile is the tile width of the TMA-store kernels for n columns:
// tmaTile's, or 192 with narrow (SetGemmNarrowTiles).
func storeTile(n int, narrow bool) int {
	bn, _ := tmaTile("", n)
	if narrow {
		bn = 192
	}
	return bn
}

// deepStoreOK reports whether SetGemmDeepStore reaches a TMA-store launch
// of bn-wide tiles on clusters of the given size, for a C as flags say:
// 128×192 tiles without clusters (_tma_s192), a half C (three boxes of 64
// columns a warpgroup).
func deepStoreOK(bn, cluster, flags int) bool {
	return bn == 192 && cluster == 1 && flags&gemmOutF16 != 0
}

// clusterKernels reports whether the cluster kernels (_tma_c[192],
// GemmTMACluster) exist for a product: fp16 with A not transposed (NT and
// NN, a Linear layer's forward and input gradient). GemmTMACluster runs
// the others on the TMA-store kernels.
func clusterKernels(bf, transA bool) bool { return !bf && !transA }

// clusterSplitKernels reports whether the split-K partial products exist
// on clusters of two blocks sharing B (_tma_pc[192], SetGemmClusterSplitK,
// gemm_splitk_cluster_sm90a): the weight gradients' layout, A transposed
// and B not, fp16 and bf16.
func clusterSplitKernels(transA, transB bool) bool { return transA && !transB }

// wideBoxesOK reports whether the split-K partials of a product can load
// each operand's tile as one three-dimensional box (the _tn_tma_p[192]w
// kernels, SetGemmWideBoxes): A transposed and B not (both stored
// MN-major), M a multiple of the 128-row tile and N of the bn-wide one, so
// that no box reaches past the operands.
func wideBoxesOK(transA, transB bool, m, n, bn int) bool {
	return transA && !transB && m%128 == 0 && n%bn == 0
}

// cElem is the bytes of one element of C: 2 for a half C (the operands'
// type), else 4 (fp32).
func cElem(outHalf bool) int {
	if outHalf {
		return 2
	}
	return 4
}
