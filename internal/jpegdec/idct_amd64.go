package jpegdec

import "github.com/klauspost/cpuid/v2"

// useAVX2 selects idctAVX2, which gives idctGo's samples bit for bit.
// Tests flip it to run both.
var useAVX2 = cpuid.CPU.Supports(cpuid.AVX2)

// idctAVX2 is idctGo on eight lanes (idct_amd64.s); k is idctK.
//
//go:noescape
func idctAVX2(dst *byte, stride int, blk *[64]int32, k *[15][8]int32)
