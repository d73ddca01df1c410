package kernels

// attnKernelAVX2 computes one 6×16 tile of C = alpha·op(A)·B; see
// attention_amd64.s.
//
//go:noescape
func attnKernelAVX2(a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc, k int, alpha float32)
