//go:build cuda

package main

import (
	"fmt"
	"slices"

	"github.com/mocogo/mocogo/engine/cuda"
)

// attentionBench times the fused attention at the shapes of MoCo v3 ViT-S
// (12 heads of 32) and DeiT-S (6 heads of 64), batch 256, N = 197, for every
// cuda.AttentionKernel. FLOPs count the two N×N×D products: 4·B·H·N²·D for
// the forward, 3.5 times that for forward + backward (as the FlashAttention
// papers and torch_baseline.py do), 2.5 times for the backward alone.
//
// Keys: attn_{fwd,fwdbwd,bwd}_h<H>d<D> for the default kernels (AttnAuto),
// the same with _<kernel> (_tiled, _head, _headalt) for the others, and
// _full for the tiled kernels computing every 64×64 tile
// (SetAttentionSkip(false)).
// The bf16 kernels (AttentionForwardBF16, AttentionBackwardBF16) on bf16
// buffers: the same keys with _bf16 after the shape
// (attn_fwdbwd_h12d32_bf16, attn_fwd_h6d64_bf16_head), beside PyTorch's
// bf16 SDPA (torch_baseline.py: attn_*_h<H>d<D>_bf16).
func (b *gpuBench) attentionBench() error {
	shapes := [][2]int{{12, 32}, {6, 64}}
	// The default and the tiled kernels (also computing every 64×64 tile)
	// first at both shapes, then the head-resident kinds by warp count,
	// then the bf16 twins.
	for _, hd := range shapes {
		if err := b.attentionShape(hd[0], hd[1], []cuda.AttentionKernel{cuda.AttnAuto, cuda.AttnTiled}, true, false); err != nil {
			return err
		}
	}
	for _, hd := range shapes {
		if err := b.attentionShape(hd[0], hd[1], []cuda.AttentionKernel{cuda.AttnHead, cuda.AttnHeadAlt}, false, false); err != nil {
			return err
		}
	}
	for _, hd := range shapes {
		if err := b.attentionShape(hd[0], hd[1], cuda.AttentionKernels, false, true); err != nil {
			return err
		}
	}
	return nil
}

// attentionShape times the given kernels (and with full, the tiled kernels
// with SetAttentionSkip(false)) at B = 256, N = 197, H heads of D: fp16,
// or with bf, the bf16 kernels on bf16 buffers.
func (b *gpuBench) attentionShape(H, D int, kernels []cuda.AttentionKernel, full, bf bool) error {
	const B, N = 256, 197
	dtype := ""
	rnd := b.randHalf
	fwdK, bwdK := b.d.AttentionForward, b.d.AttentionBackward
	if bf {
		dtype, rnd = "_bf16", b.randBF16
		fwdK, bwdK = b.d.AttentionForwardBF16, b.d.AttentionBackwardBF16
	}
	// The key suffixes of this call's runs; -keys may leave them all out.
	var suffixes []string
	for _, k := range kernels {
		suffixes = append(suffixes, attnSuffix(k))
	}
	if full {
		suffixes = append(suffixes, "_full")
	}
	key := func(pass, suffix string) string { return fmt.Sprintf("attn_%s_h%dd%d%s%s", pass, H, D, dtype, suffix) }
	if !slices.ContainsFunc(suffixes, func(suffix string) bool {
		return b.wants(key("fwd", suffix)) || b.wants(key("fwdbwd", suffix)) || b.wants(key("bwd", suffix))
	}) {
		return nil
	}
	qkv, err := rnd(B * N * 3 * H * D)
	if err != nil {
		return err
	}
	defer qkv.Free()
	out, err := b.d.AllocF16(B * N * H * D) // 2 bytes an element: fp16 or bf16
	if err != nil {
		return err
	}
	defer out.Free()
	lse, err := b.d.AllocF32(B * H * N)
	if err != nil {
		return err
	}
	defer lse.Free()
	dout, err := rnd(B * N * H * D)
	if err != nil {
		return err
	}
	defer dout.Free()
	dqkv, err := b.d.AllocF16(B * N * 3 * H * D)
	if err != nil {
		return err
	}
	defer dqkv.Free()
	flops := 4 * float64(B*H) * N * N * float64(D)
	fwd := func() error { return fwdK(qkv, out, lse, B, N, H, D) }
	bwd := func() error { return bwdK(qkv, out, dout, lse, dqkv, B, N, H, D) }
	run := func(suffix string) error {
		if b.wants(key("fwd", suffix)) {
			ms, err := b.time(fwd)
			if err != nil {
				return err
			}
			result(key("fwd", suffix), flops/ms/1e9, "TFLOP/s", ms)
		}
		if b.wants(key("fwdbwd", suffix)) {
			ms, err := b.time(func() error {
				if err := fwd(); err != nil {
					return err
				}
				return bwd()
			})
			if err != nil {
				return err
			}
			result(key("fwdbwd", suffix), 3.5*flops/ms/1e9, "TFLOP/s", ms)
		}
		if b.wants(key("bwd", suffix)) {
			// The backward alone, after one forward for its out and lse.
			if err := fwd(); err != nil {
				return err
			}
			ms, err := b.time(bwd)
			if err != nil {
				return err
			}
			result(key("bwd", suffix), 2.5*flops/ms/1e9, "TFLOP/s", ms)
		}
		return nil
	}
	for _, k := range kernels {
		old := b.d.SetAttentionKernel(k)
		err := run(attnSuffix(k))
		b.d.SetAttentionKernel(old)
		if err != nil {
			return fmt.Errorf("attention kernels %s%s, H=%d D=%d: %w", k, dtype, H, D, err)
		}
	}
	if full {
		oldK := b.d.SetAttentionKernel(cuda.AttnTiled)
		old := b.d.SetAttentionSkip(false)
		err := run("_full")
		b.d.SetAttentionSkip(old)
		b.d.SetAttentionKernel(oldK)
		if err != nil {
			return err
		}
	}
	return nil
}

// attnSuffix is the key suffix of attention kernel k: none for the default
// (AttnAuto), _<kernel> for the others.
func attnSuffix(k cuda.AttentionKernel) string {
	if k == cuda.AttnAuto {
		return ""
	}
	return "_" + k.String()
}
