//go:build cuda

package cuda

import (
	"fmt"
	"math"
)

// AttentionForward computes multi-head self-attention for packed fp16
// qkv [B, N, 3, H, D] into out [B, N, H, D] (fp16) and saves the
// log-sum-exp of every score row in lse [B, H, N] (fp32, natural log) for
// the backward pass: out = softmax(Q·Kᵀ/√D)·V per batch and head. D is 32
// or 64; N is any length. qkv must be 16-byte aligned.
func (d *Device) AttentionForward(qkv, out, lse *Buffer, B, N, H, D int) error {
	if D != 32 && D != 64 {
		panic(fmt.Sprintf("cuda.AttentionForward: head dim %d (the kernels take 32 or 64)", D))
	}
	if B < 0 || N < 0 || H <= 0 {
		panic(fmt.Sprintf("cuda.AttentionForward: B=%d N=%d H=%d", B, N, H))
	}
	elems := int64(B) * int64(N) * int64(H) * int64(D)
	if qkv.bytes < 3*2*elems || out.bytes < 2*elems || lse.bytes < 4*int64(B*H*N) {
		panic(fmt.Sprintf("cuda.AttentionForward: buffers of %d, %d, %d bytes for B=%d N=%d H=%d D=%d",
			qkv.bytes, out.bytes, lse.bytes, B, N, H, D))
	}
	if qkv.ptr%16 != 0 {
		panic("cuda.AttentionForward: qkv is not 16-byte aligned")
	}
	if B == 0 || N == 0 {
		return nil
	}
	smem := 5 * 64 * (D + 8) * 2
	scale := float32(math.Log2E / math.Sqrt(float64(D)))
	return d.Launch("attention", fmt.Sprintf("attn_fwd_d%d", D), Dim3{(N + 63) / 64, B * H, 1}, D1(128), smem,
		qkv, out, lse, int32(B), int32(N), int32(H), scale)
}
