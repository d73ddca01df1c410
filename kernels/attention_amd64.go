package kernels

// attnKernelAVX2 computes one 6×16 tile of C = alpha·op(A)·B; see
// attention_amd64.s.
//
//go:noescape
func attnKernelAVX2(a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc, k int, alpha float32)

// attnKernelAVX512 computes one 6×32 tile, each element with the bits
// attnKernelAVX2 gives it; see attention_amd64.s.
//
//go:noescape
func attnKernelAVX512(a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc, k int, alpha float32)

// prefetchRows asks for the first bytes of rows rows stride elements apart
// to be brought into cache (a hint; it never faults).
//
//go:noescape
func prefetchRows(p *float32, rows, stride, bytes int)
