// Package kernels holds the numeric primitives every backend is built on.
//
// Each primitive has a plain Go reference implementation and, where the
// processor supports it, an AVX2/FMA version written in Go assembly. The
// choice is made once at start with github.com/klauspost/cpuid/v2; tests run
// both paths on any machine that has AVX2 so the two always agree.
//
// The package knows nothing of tensors, autodiff or models: every function
// takes plain slices, sizes and strides, and panics with the function name
// when the sizes it is given do not fit the slices (a programmer error).
package kernels
