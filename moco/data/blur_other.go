//go:build !amd64

package data

// Stubs so the dispatching code compiles; useAVX2 is always false here.

func hBoxRowAVX2(out, in *float32, n, r int, ww, fw float32)                       { panic(noAsm) }
func vBoxPassAVX2(out, in *float32, rows *uintptr, W, H, r, n int, ww, fw float32) { panic(noAsm) }
