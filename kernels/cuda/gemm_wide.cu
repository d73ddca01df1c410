// gemm_wide.cu: gemm_f16.cu's 128×256 mma.sync kernels gemm_<t>_<a><b>_w of
// both types, which only GemmMMAWide launches, in a module of their own:
// they took about half of gemm_f16's compile time, which every run paid
// when it loaded that module. Everything else is in gemm_f16.cu.
#define GEMM_MODULE_WIDE
#include "gemm_f16.cu"
