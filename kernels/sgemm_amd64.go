package kernels

import "github.com/klauspost/cpuid/v2"

//go:generate python3 ../scripts/gen/sgemm_direct.py avx512 sgemm_avx512_direct_amd64.s
//go:generate python3 ../scripts/gen/sgemm_direct.py avx2 sgemm_avx2_direct_amd64.s

// sgemmKern6x16AVX2 computes a 6×16 tile; see gemmKernel. a holds kc×6 and
// b kc×16 packed values, c is row-major with stride ldc (in elements).
//
//go:noescape
func sgemmKern6x16AVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKern12x32AVX512 computes a 12×32 tile; see gemmKernel.
//
//go:noescape
func sgemmKern12x32AVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKern6x8AVX2 computes a 6×8 tile from slivers packed 8 wide.
//
//go:noescape
func sgemmKern6x8AVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKern12x16AVX512 computes a 12×16 tile from slivers packed 16 wide.
//
//go:noescape
func sgemmKern12x16AVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKern12x32AVX512Direct is sgemmKern12x32AVX512 with A read in
// place: row r at a[r*lda:], k values contiguous; see directKernel.
//
//go:noescape
func sgemmKern12x32AVX512Direct(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32)

// sgemmKern12x16AVX512Direct is sgemmKern12x16AVX512 with A read in place.
//
//go:noescape
func sgemmKern12x16AVX512Direct(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32)

// sgemmKern6x16AVX2Direct is sgemmKern6x16AVX2 with A read in place.
//
//go:noescape
func sgemmKern6x16AVX2Direct(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32)

// sgemmKern6x8AVX2Direct is sgemmKern6x8AVX2 with A read in place.
//
//go:noescape
func sgemmKern6x8AVX2Direct(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32)

func kernAVX2Direct(kc int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[5*lda+kc-1]
	_ = b[kc*16-1]
	_ = c[5*ldc+15]
	sgemmKern6x16AVX2Direct(kc, &a[0], lda, &b[0], &c[0], ldc, alpha, beta)
}

func kernAVX2DirectHalf(kc int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[5*lda+kc-1]
	_ = b[kc*8-1]
	_ = c[5*ldc+7]
	sgemmKern6x8AVX2Direct(kc, &a[0], lda, &b[0], &c[0], ldc, alpha, beta)
}

func kernAVX512Direct(kc int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[11*lda+kc-1]
	_ = b[kc*32-1]
	_ = c[11*ldc+31]
	sgemmKern12x32AVX512Direct(kc, &a[0], lda, &b[0], &c[0], ldc, alpha, beta)
}

func kernAVX512DirectHalf(kc int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[11*lda+kc-1]
	_ = b[kc*16-1]
	_ = c[11*ldc+15]
	sgemmKern12x16AVX512Direct(kc, &a[0], lda, &b[0], &c[0], ldc, alpha, beta)
}

// sgemmPack4AVX is a packFunc in AVX.
//
//go:noescape
func sgemmPack4AVX(dst, src *float32, ld, stride, kc8 int)

// sgemmPackRowsAVX is a rowsFunc in AVX.
//
//go:noescape
func sgemmPackRowsAVX(dst, src *float32, ld, width, nsl, kc int)

func kernAVX2(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[kc*6-1]
	_ = b[kc*16-1]
	_ = c[5*ldc+15]
	sgemmKern6x16AVX2(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func kernAVX2Half(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[kc*6-1]
	_ = b[kc*8-1]
	_ = c[5*ldc+7]
	sgemmKern6x8AVX2(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func kernAVX512Half(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[kc*12-1]
	_ = b[kc*16-1]
	_ = c[11*ldc+15]
	sgemmKern12x16AVX512(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func kernAVX512(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[kc*12-1]
	_ = b[kc*32-1]
	_ = c[11*ldc+31]
	sgemmKern12x32AVX512(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// Cache blocking, sized for a core with 32–48 KiB of L1d, 1 MiB or more of
// L2 and a shared L3 of several MiB (measured on an AMD EPYC Zen 5: 48 KiB
// L1d, 1 MiB L2 per core, 32 MiB L3): the kc×mr A sliver (24 KiB for
// AVX-512) stays in L1 while the kernel walks the kc×nb B block (1 MiB) in
// L2, and each thread's mb×kc share of the A panel (3 MiB) stays in L3.
// kc, nb and mb were picked by sweeping 256–3072 on 2048³ and the ViT
// shapes; the differences near the optimum are a few percent.
var (
	gemmAVX2 = &gemmImpl{
		name: "avx2", mr: 6, nr: 16, kc: 512, nb: 512, mb: 768,
		kern: kernAVX2, kernHalf: kernAVX2Half, pack4: sgemmPack4AVX, packRows: sgemmPackRowsAVX,
		kernDirect: kernAVX2Direct, kernDirectHalf: kernAVX2DirectHalf,
	}
	gemmAVX512 = &gemmImpl{
		name: "avx512", mr: 12, nr: 32, kc: 512, nb: 512, mb: 1536,
		kern: kernAVX512, kernHalf: kernAVX512Half, pack4: sgemmPack4AVX, packRows: sgemmPackRowsAVX,
		kernDirect: kernAVX512Direct, kernDirectHalf: kernAVX512DirectHalf,
	}
)

func init() {
	if cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3) {
		registerGemm(gemmAVX2)
		if cpuid.CPU.Supports(cpuid.AVX512F) {
			registerGemm(gemmAVX512)
		}
	}
}
