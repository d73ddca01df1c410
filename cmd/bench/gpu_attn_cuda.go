//go:build cuda

package main

import (
	"fmt"

	"github.com/mocogo/mocogo/engine/cuda"
)

// attentionBench times the fused attention forward at the shapes of
// MoCo v3 ViT-S (12 heads of 32) and DeiT-S (6 heads of 64), batch 256.
// FLOPs count the two N×N×D products: 4·B·H·N²·D.
func (b *gpuBench) attentionBench() error {
	const B, N = 256, 197
	for _, hd := range [][2]int{{12, 32}, {6, 64}} {
		H, D := hd[0], hd[1]
		qkv, err := b.randHalf(B * N * 3 * H * D)
		if err != nil {
			return err
		}
		out, err := b.d.AllocF16(B * N * H * D)
		if err != nil {
			return err
		}
		lse, err := b.d.AllocF32(B * H * N)
		if err != nil {
			return err
		}
		ms, err := b.time(func() error { return b.d.AttentionForward(qkv, out, lse, B, N, H, D) })
		if err != nil {
			return err
		}
		flops := 4 * float64(B*H) * N * N * float64(D)
		result(fmt.Sprintf("attn_fwd_h%dd%d", H, D), flops/ms/1e9, "TFLOP/s", ms)
		dout, err := b.randHalf(B * N * H * D)
		if err != nil {
			return err
		}
		dqkv, err := b.d.AllocF16(B * N * 3 * H * D)
		if err != nil {
			return err
		}
		ms, err = b.time(func() error {
			if err := b.d.AttentionForward(qkv, out, lse, B, N, H, D); err != nil {
				return err
			}
			return b.d.AttentionBackward(qkv, out, dout, lse, dqkv, B, N, H, D)
		})
		if err != nil {
			return err
		}
		// Forward + backward counted as 3.5 forward products, as the
		// FlashAttention papers (and torch_baseline.py) do.
		result(fmt.Sprintf("attn_fwdbwd_h%dd%d", H, D), 3.5*flops/ms/1e9, "TFLOP/s", ms)
		// The same with every 64×64 tile computed in full (the first
		// kernels), for comparison.
		old := b.d.SetAttentionSkip(false)
		msF, err := b.time(func() error { return b.d.AttentionForward(qkv, out, lse, B, N, H, D) })
		if err == nil {
			result(fmt.Sprintf("attn_fwd_h%dd%d_full", H, D), flops/msF/1e9, "TFLOP/s", msF)
			msF, err = b.time(func() error {
				if err := b.d.AttentionForward(qkv, out, lse, B, N, H, D); err != nil {
					return err
				}
				return b.d.AttentionBackward(qkv, out, dout, lse, dqkv, B, N, H, D)
			})
		}
		b.d.SetAttentionSkip(old)
		if err != nil {
			return err
		}
		result(fmt.Sprintf("attn_fwdbwd_h%dd%d_full", H, D), 3.5*flops/msF/1e9, "TFLOP/s", msF)
		for _, buf := range []*cuda.Buffer{qkv, out, lse, dout, dqkv} {
			buf.Free()
		}
	}
	return nil
}
