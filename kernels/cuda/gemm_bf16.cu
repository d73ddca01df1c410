// gemm_bf16.cu: the bf16 kernels of gemm_f16.cu (gemm_bf16_<a><b>[_u],
// gemm_bf16_<a><b>_sk, gemm_splitk_reduce_bf16), a module of their own so
// that an fp16 run's driver does not compile them, nor a bf16 run's the
// fp16 ones. Everything else is in gemm_f16.cu.
#define GEMM_MODULE_BF16
#include "gemm_f16.cu"
