// attention_bf16.cu: the bf16 twins of attention.cu's kernels, in a module
// of their own (attention_bf16.ptx): attn_fwd_d<D>_bf16,
// attn_bwd_{dot,dkdv,dq}_d<D>_bf16, attn_{fwd,bwd}_head_w<W>_d<D>_bf16, the
// templates of attention.cu instantiated for T = bf16 (see its header, and
// its last section for why the module is separate). Same parameters,
// launch shapes and shared memory as the fp16 kernels.

#define ATT_BF16 1
#include "attention.cu"
