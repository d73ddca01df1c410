package kernels

const haveAVX2Asm = true

// The assembly loops take n a multiple of 8.

//go:noescape
func expAVX2(dst, src *float32, n int)

//go:noescape
func erfAVX2(dst, src *float32, n int)

//go:noescape
func geluFwdAVX2(y, x *float32, n int)

//go:noescape
func geluBwdAVX2(dx, x, dy *float32, n int)

// The AVX-512 loops take n a multiple of 32.

//go:noescape
func geluFwdAVX512(y, x *float32, n int)

//go:noescape
func geluBwdAVX512(dx, x, dy *float32, n int)
