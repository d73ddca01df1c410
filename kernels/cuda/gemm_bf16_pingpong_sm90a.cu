// gemm_bf16_pingpong_sm90a.cu: the bf16 kernels of gemm_pingpong_sm90a.cu
// (gemm_bf16_<a><b>_tma_pp[192], _tma_ppr, _tma_ppg), a module of their own
// so that an fp16 run's driver does not compile them, nor a bf16 run's the
// fp16 ones. Everything else is in gemm_pingpong_sm90a.cu.
#define GEMM_MODULE_BF16
#include "gemm_pingpong_sm90a.cu"
