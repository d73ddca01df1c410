//go:build !amd64

package kernels

const haveAVX2Asm = false

// Stubs so the dispatching code compiles; useAVX2 is always false here.

func expAVX2(dst, src *float32, n int)        { panic(noAsm) }
func erfAVX2(dst, src *float32, n int)        { panic(noAsm) }
func geluFwdAVX2(y, x *float32, n int)        { panic(noAsm) }
func geluBwdAVX2(dx, x, dy *float32, n int)   { panic(noAsm) }
func geluFwdAVX512(y, x *float32, n int)      { panic(noAsm) }
func geluBwdAVX512(dx, x, dy *float32, n int) { panic(noAsm) }
