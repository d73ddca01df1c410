//go:build !amd64

package data

// haveAsm: no assembly kernels on this architecture; the *_other.go
// stubs only make the dispatching code compile.
const haveAsm = false

const noAsm = "data: no AVX2 kernels on this architecture"
