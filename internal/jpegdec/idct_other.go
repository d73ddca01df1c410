//go:build !amd64

package jpegdec

var useAVX2 = false

func idctAVX2(dst *byte, stride int, blk *[64]int32, k *[15][8]int32) {
	panic("jpegdec: no AVX2 on this architecture")
}
