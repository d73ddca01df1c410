//go:build cuda

package main

import "fmt"

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
		result(fmt.Sprintf("attn_fwd_h%dd%d", H, D), 4*float64(B*H)*N*N*float64(D)/ms/1e9, "TFLOP/s", ms)
		qkv.Free()
		out.Free()
		lse.Free()
	}
	return nil
}
