//go:build cuda

package cuda

// Driver calls that gorgonia.org/cu does not wrap.

/*
#cgo LDFLAGS: -lcuda -ldl
#include <cuda.h>
#include <dlfcn.h>
#include <string.h>

// cuTensorMapEncodeTiled (CUDA 12) is not in the CUDA 11.8 header the
// build uses, so it is looked up in the driver at run time. Enum values from
// the CUDA 12 driver API (CUtensorMapDataType: UINT8 0, UINT16 1, UINT32 2,
// INT32 3, UINT64 4, INT64 5, FLOAT16 6, FLOAT32 7, FLOAT64 8, BFLOAT16 9,
// FLOAT32_FTZ 10, ...): data type FLOAT16 = 6, FLOAT32 = 7 or BFLOAT16 = 9
// (dtype), interleave NONE = 0, swizzle 128B = 3, L2 promotion (promo)
// 128B = 2 or 256B = 3, out-of-bounds fill NONE = 0 (zeros). With fill NONE the two 16-bit types
// move the same bytes; the type is given for what it is.
typedef CUresult (*mocogo_encode_tiled_fn)(void*, int, unsigned int, void*, const unsigned long long*,
	const unsigned long long*, const unsigned int*, const unsigned int*, int, int, int, int);

// mocogo_driver_sym finds a driver entry point that the CUDA 11.8 header
// and link stub do not have.
static void* mocogo_driver_sym(const char* name) {
	void* f = dlsym(RTLD_DEFAULT, name);
	if (!f) {
		void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
		if (h) f = dlsym(h, name);
	}
	return f;
}

// mocogo_encode_tiled is the driver's cuTensorMapEncodeTiled, looked up
// once (null where the driver has none).
static mocogo_encode_tiled_fn mocogo_encode_tiled(void) {
	static mocogo_encode_tiled_fn fn = 0;
	if (!fn) fn = (mocogo_encode_tiled_fn)mocogo_driver_sym("cuTensorMapEncodeTiled");
	return fn;
}

static CUresult mocogo_tmap_2d(void* out, int dtype, CUdeviceptr base, unsigned long long inner, unsigned long long outer,
	unsigned long long row_bytes, unsigned int box_inner, unsigned int box_outer, int promo) {
	mocogo_encode_tiled_fn fn = mocogo_encode_tiled();
	if (!fn) return CUDA_ERROR_NOT_FOUND;
	unsigned long long dims[2] = {inner, outer};
	unsigned long long strides[1] = {row_bytes};
	unsigned int box[2] = {box_inner, box_outer};
	unsigned int estr[2] = {1, 1};
	return fn(out, dtype, 2, (void*)base, dims, strides, box, estr, 0, 3, promo, 0);
}

// mocogo_tmap_mn3d encodes a 16-bit MN-major operand (stored K rows of
// `chunks`·64 contiguous elements, row_bytes apart) as a three-dimensional
// map: dims {64, K, chunks}, strides {row_bytes, 128}, box {64, 64,
// box_chunks}, 128-byte swizzle: one load brings box_chunks 64-wide chunks
// of 64 k-rows, each where a two-dimensional box {64, 64} would put it.
static CUresult mocogo_tmap_mn3d(void* out, int dtype, CUdeviceptr base, unsigned long long k, unsigned long long chunks,
	unsigned long long row_bytes, unsigned int box_chunks, int promo) {
	mocogo_encode_tiled_fn fn = mocogo_encode_tiled();
	if (!fn) return CUDA_ERROR_NOT_FOUND;
	unsigned long long dims[3] = {64, k, chunks};
	unsigned long long strides[2] = {row_bytes, 128};
	unsigned int box[3] = {64, 64, box_chunks};
	unsigned int estr[3] = {1, 1, 1};
	return fn(out, dtype, 3, (void*)base, dims, strides, box, estr, 0, 3, promo, 0);
}

// mocogo_launch_config is CUDA 12's CUlaunchConfig (grid and block sizes,
// dynamic shared memory, stream, no launch attributes): a kernel with
// compile-time cluster dimensions needs none.
typedef struct {
	unsigned int grid[3], block[3], smem;
	CUstream stream;
	void* attrs;
	unsigned int nattrs;
} mocogo_launch_config;
typedef CUresult (*mocogo_max_clusters_fn)(int*, CUfunction, const mocogo_launch_config*);

// mocogo_max_active_clusters asks the driver (cuOccupancyMaxActiveClusters,
// CUDA 12) how many clusters of f can run at once with the given block size
// and dynamic shared memory.
static CUresult mocogo_max_active_clusters(int* n, CUfunction f, unsigned int grid, unsigned int block, unsigned int smem) {
	static mocogo_max_clusters_fn fn = 0;
	if (!fn) fn = (mocogo_max_clusters_fn)mocogo_driver_sym("cuOccupancyMaxActiveClusters");
	if (!fn) return CUDA_ERROR_NOT_FOUND;
	mocogo_launch_config c = {{grid, 1, 1}, {block, 1, 1}, smem, 0, 0, 0};
	return fn(n, f, &c);
}

// mocogo_launch launches f with nparams parameters packed back to back in
// buf at the given offsets (the driver copies each by its declared size).
static CUresult mocogo_launch(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
	unsigned int by, unsigned int bz, unsigned int smem, char* buf, const int* offsets, int nparams) {
	void* params[32];
	if (nparams > 32) return CUDA_ERROR_INVALID_VALUE;
	for (int i = 0; i < nparams; i++) params[i] = buf + offsets[i];
	return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, smem, 0, params, 0);
}

static CUresult mocogo_func_set_max_dynamic_smem(CUfunction f, int bytes) {
	return cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
}

static CUresult mocogo_memset_d32(CUdeviceptr p, unsigned int v, size_t n) {
	return cuMemsetD32(p, v, n);
}

static CUresult mocogo_memset_d16(CUdeviceptr p, unsigned short v, size_t n) {
	return cuMemsetD16(p, v, n);
}

static CUresult mocogo_mem_alloc_host(void** p, size_t n) {
	return cuMemAllocHost(p, n);
}

static CUresult mocogo_mem_free_host(void* p) {
	return cuMemFreeHost(p);
}

static CUresult mocogo_memcpy_htod_async(CUdeviceptr dst, const void* src, size_t n) {
	return cuMemcpyHtoDAsync(dst, src, n, 0);
}

static const char* mocogo_error_name(CUresult r) {
	const char* s = 0;
	if (cuGetErrorName(r, &s) != CUDA_SUCCESS || s == 0) return "CUDA_ERROR_UNKNOWN";
	return s;
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
)

type driverError struct {
	call string
	code C.CUresult
}

func (e driverError) Error() string {
	return fmt.Sprintf("%s: %s (%d)", e.call, C.GoString(C.mocogo_error_name(e.code)), int(e.code))
}

func check(call string, r C.CUresult) error {
	if r == C.CUDA_SUCCESS {
		return nil
	}
	return driverError{call, r}
}

// rawFunction extracts the CUfunction handle from cu.Function, whose only
// field it is.
func rawFunction(f cu.Function) C.CUfunction {
	return *(*C.CUfunction)(unsafe.Pointer(&f))
}

func setMaxDynamicSmem(f cu.Function, bytes int) error {
	return check("cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", C.mocogo_func_set_max_dynamic_smem(rawFunction(f), C.int(bytes)))
}

// CUtensorMapDataType values (CUDA 12 cuda.h).
const (
	tmapFloat16  = 6
	tmapFloat32  = 7
	tmapBFloat16 = 9
)

// tensorMap16 encodes a TMA descriptor (128 bytes) for a row-major fp16
// (bf false) or bf16 (bf true) matrix of rows×cols elements with the given
// row stride in elements, read in boxes of boxCols×boxRows with the 128-byte
// swizzle.
func tensorMap16(bf bool, base cu.DevicePtr, rows, cols, ld, boxRows, boxCols int) ([128]byte, error) {
	return tensorMap(halfMapType(bf), 2, base, rows, cols, ld, boxRows, boxCols)
}

// halfMapType is the CUtensorMapDataType of bf16 (bf) or fp16 operands.
func halfMapType(bf bool) int {
	if bf {
		return tmapBFloat16
	}
	return tmapFloat16
}

// encodeTensorMap runs encode (a call of cuTensorMapEncodeTiled, named
// call in its error) on a 64-byte aligned scratch descriptor and returns
// the 128 bytes it wrote.
func encodeTensorMap(call string, encode func(out unsafe.Pointer) C.CUresult) ([128]byte, error) {
	var m [128]byte
	p := C.malloc(128 + 64)
	defer C.free(p)
	aligned := unsafe.Pointer((uintptr(p) + 63) &^ 63)
	if err := check(call, encode(aligned)); err != nil {
		return m, err
	}
	copy(m[:], unsafe.Slice((*byte)(aligned), 128))
	return m, nil
}

// l2Promotion is a tensor map's CUtensorMapL2promotion: how many bytes
// about each line a load misses in L2 fetches from DRAM.
type l2Promotion int

const (
	l2Promote128 l2Promotion = 2 // every map the GEMM kernels load through
	l2Promote256 l2Promotion = 3 // the tile-load probe's _l2p256 variants
)

// tensorMap encodes a TMA descriptor (128 bytes) for a row-major matrix of
// rows×cols elements of the given CUtensorMapDataType and size in bytes,
// with a row stride of ld elements, moved in boxes of boxCols×boxRows with
// the 128-byte swizzle and L2 promotion 128B.
func tensorMap(dtype, elemBytes int, base cu.DevicePtr, rows, cols, ld, boxRows, boxCols int) ([128]byte, error) {
	return tensorMapL2(dtype, elemBytes, base, rows, cols, ld, boxRows, boxCols, l2Promote128)
}

// tensorMapL2 is tensorMap with the given L2 promotion.
func tensorMapL2(dtype, elemBytes int, base cu.DevicePtr, rows, cols, ld, boxRows, boxCols int, promo l2Promotion) ([128]byte, error) {
	return encodeTensorMap("cuTensorMapEncodeTiled", func(out unsafe.Pointer) C.CUresult {
		return C.mocogo_tmap_2d(out, C.int(dtype), C.CUdeviceptr(base), C.ulonglong(cols), C.ulonglong(rows),
			C.ulonglong(elemBytes*ld), C.uint(boxCols), C.uint(boxRows), C.int(promo))
	})
}

// tensorMapMN3D encodes a TMA descriptor for an fp16 (bf false) or bf16
// operand stored MN-major, k rows of cols elements (a multiple of 64) with
// a row stride of ld elements, read in boxes of boxChunks 64-wide chunks of
// 64 rows (mocogo_tmap_mn3d), with L2 promotion 128B.
func tensorMapMN3D(bf bool, base cu.DevicePtr, k, cols, ld, boxChunks int) ([128]byte, error) {
	return tensorMapMN3DL2(bf, base, k, cols, ld, boxChunks, l2Promote128)
}

// tensorMapMN3DL2 is tensorMapMN3D with the given L2 promotion.
func tensorMapMN3DL2(bf bool, base cu.DevicePtr, k, cols, ld, boxChunks int, promo l2Promotion) ([128]byte, error) {
	if cols%64 != 0 {
		return [128]byte{}, fmt.Errorf("cuda: a three-dimensional MN-major map needs a multiple of 64 columns, not %d", cols)
	}
	return encodeTensorMap("cuTensorMapEncodeTiled (3-D)", func(out unsafe.Pointer) C.CUresult {
		return C.mocogo_tmap_mn3d(out, C.int(halfMapType(bf)), C.CUdeviceptr(base), C.ulonglong(k), C.ulonglong(cols/64),
			C.ulonglong(2*ld), C.uint(boxChunks), C.int(promo))
	})
}

// maxActiveClusters is how many clusters of f (whose cluster size is fixed
// at compile time) fit on the GPU at once with blocks of the given size and
// dynamic shared memory; grid is a multiple of the cluster size.
func maxActiveClusters(f cu.Function, grid, block, smem int) (int, error) {
	var n C.int
	if err := check("cuOccupancyMaxActiveClusters", C.mocogo_max_active_clusters(&n, rawFunction(f), C.uint(grid), C.uint(block), C.uint(smem))); err != nil {
		return 0, err
	}
	return int(n), nil
}

// launchRaw launches f with parameters given as raw bytes each (8 bytes for
// pointers and scalars, 128 for a tensor map), for kernels whose parameters
// do not fit cu's one-slot-per-parameter convention.
func launchRaw(f cu.Function, grid, block Dim3, smem int, params [][]byte) error {
	total := 0
	offs := make([]C.int, len(params))
	for i, p := range params {
		total = (total + 63) &^ 63 // keep tensor maps 64-byte aligned
		offs[i] = C.int(total)
		total += len(p)
	}
	raw := C.malloc(C.size_t(total + 64))
	defer C.free(raw)
	buf := unsafe.Pointer((uintptr(raw) + 63) &^ 63)
	dst := unsafe.Slice((*byte)(buf), total)
	for i, p := range params {
		copy(dst[offs[i]:], p)
	}
	coffs := C.malloc(C.size_t(4 * len(offs)))
	defer C.free(coffs)
	copy(unsafe.Slice((*C.int)(coffs), len(offs)), offs)
	return check("cuLaunchKernel", C.mocogo_launch(rawFunction(f), C.uint(grid.X), C.uint(grid.Y), C.uint(grid.Z),
		C.uint(block.X), C.uint(block.Y), C.uint(block.Z), C.uint(smem), (*C.char)(buf), (*C.int)(coffs), C.int(len(params))))
}

func memsetD32(p cu.DevicePtr, v uint32, n int64) error {
	return check("cuMemsetD32", C.mocogo_memset_d32(C.CUdeviceptr(p), C.uint(v), C.size_t(n)))
}

func memsetD16(p cu.DevicePtr, v uint16, n int64) error {
	return check("cuMemsetD16", C.mocogo_memset_d16(C.CUdeviceptr(p), C.ushort(v), C.size_t(n)))
}

// allocHost returns n bytes of page-locked host memory (cuMemAllocHost),
// which the GPU's copy engines read directly.
func allocHost(n int64) (unsafe.Pointer, error) {
	var p unsafe.Pointer
	if err := check("cuMemAllocHost", C.mocogo_mem_alloc_host(&p, C.size_t(n))); err != nil {
		return nil, err
	}
	return p, nil
}

func freeHost(p unsafe.Pointer) error { return check("cuMemFreeHost", C.mocogo_mem_free_host(p)) }

// memcpyHtoDAsync queues a copy from page-locked host memory on the default
// stream and returns at once.
func memcpyHtoDAsync(dst cu.DevicePtr, src unsafe.Pointer, n int64) error {
	return check("cuMemcpyHtoDAsync", C.mocogo_memcpy_htod_async(C.CUdeviceptr(dst), src, C.size_t(n)))
}
