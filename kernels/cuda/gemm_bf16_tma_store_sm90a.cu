// gemm_bf16_tma_store_sm90a.cu: the bf16 kernels of gemm_tma_store_sm90a.cu
// (gemm_bf16_<a><b>_tma_s[192]), a module of their own so that an fp16
// run's driver does not compile them, nor a bf16 run's the fp16 ones.
// Everything else is in gemm_tma_store_sm90a.cu.
#define GEMM_MODULE_BF16
#include "gemm_tma_store_sm90a.cu"
