//go:build cuda

package cuda

// Driver calls that gorgonia.org/cu does not wrap.

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>

static CUresult mocogo_func_set_max_dynamic_smem(CUfunction f, int bytes) {
	return cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
}

static CUresult mocogo_memset_d32(CUdeviceptr p, unsigned int v, size_t n) {
	return cuMemsetD32(p, v, n);
}

static CUresult mocogo_memset_d16(CUdeviceptr p, unsigned short v, size_t n) {
	return cuMemsetD16(p, v, n);
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

func memsetD32(p cu.DevicePtr, v uint32, n int64) error {
	return check("cuMemsetD32", C.mocogo_memset_d32(C.CUdeviceptr(p), C.uint(v), C.size_t(n)))
}

func memsetD16(p cu.DevicePtr, v uint16, n int64) error {
	return check("cuMemsetD16", C.mocogo_memset_d16(C.CUdeviceptr(p), C.ushort(v), C.size_t(n)))
}
