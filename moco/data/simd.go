package data

import "github.com/klauspost/cpuid/v2"

// useAVX2 selects the AVX2 assembly forms of the augmentation's pixel
// loops (resize, blur, colour ops, normalisation). Each gives the bits
// of its plain Go loop: the same float32 operations in the same order,
// products rounded before they are added (no fused multiply-add, which
// the Go loops also rule out with explicit float32 conversions, so that
// GOAMD64=v3 builds agree too). A run's views are therefore the same on
// every machine. It is decided once at start; tests flip it to run both
// forms on the same machine.
var useAVX2 = haveAsm && cpuid.CPU.Supports(cpuid.AVX2)
