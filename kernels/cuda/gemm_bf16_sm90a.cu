// gemm_bf16_sm90a.cu: the bf16 kernels of gemm_f16_sm90a.cu
// (gemm_bf16_nt_sm90, gemm_bf16_nt_sm90_n256), a module of their own so
// that an fp16 run's driver does not compile them, nor a bf16 run's the
// fp16 ones. Everything else is in gemm_f16_sm90a.cu.
#define GEMM_MODULE_BF16
#include "gemm_f16_sm90a.cu"
