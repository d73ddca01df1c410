//go:build !amd64

package kernels

func attnKernelAVX2(a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc, k int, alpha float32) {
	panic(noAsm)
}

func attnKernelAVX512(a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc, k int, alpha float32) {
	panic(noAsm)
}

func prefetchRows(p *float32, rows, stride, bytes int) {}
