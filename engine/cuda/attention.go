//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"sync"
)

// AttentionForward computes multi-head self-attention for packed fp16
// qkv [B, N, 3, H, D] into out [B, N, H, D] (fp16) and saves the
// log-sum-exp of every score row in lse [B, H, N] (fp32, natural log) for
// the backward pass: out = softmax(Q·Kᵀ/√D)·V per batch and head. D is 32
// or 64; N is any length. qkv must be 16-byte aligned.
func (d *Device) AttentionForward(qkv, out, lse *Buffer, B, N, H, D int) error {
	return d.attentionForward(false, qkv, out, lse, B, N, H, D)
}

// AttentionForwardBF16 is AttentionForward on bf16: qkv and out hold bf16,
// lse fp32. Every kernel of AttentionForward (SetAttentionKernel,
// SetAttentionSkip) has a bf16 twin, the same source instantiated for bf16
// (kernel names with a _bf16 suffix): scores, softmax statistics, lse and
// the P·V accumulation stay fp32, P is rounded to bf16 for the P·V product
// as the fp16 kernels round it to fp16, and out is rounded to bf16 (nearest
// even). bf16 has fp32's exponent range: nothing overflows at 65504.
func (d *Device) AttentionForwardBF16(qkv, out, lse *Buffer, B, N, H, D int) error {
	return d.attentionForward(true, qkv, out, lse, B, N, H, D)
}

// attnType returns the API name (for panics), the PTX module and the
// kernel-name suffix of the fp16 (bf false) or bf16 attention kernels: the
// fp16 ones in module attention (kernels/cuda/attention.cu), their bf16
// twins, named with a _bf16 suffix, in module attention_bf16 (the same
// templates instantiated for bf16 by attention_bf16.cu).
func attnType(op string, bf bool) (api, module, suffix string) {
	if bf {
		return "cuda." + op + "BF16", "attention_bf16", "_bf16"
	}
	return "cuda." + op, "attention", ""
}

func (d *Device) attentionForward(bf bool, qkv, out, lse *Buffer, B, N, H, D int) error {
	api, mod, sfx := attnType("AttentionForward", bf)
	if D != 32 && D != 64 {
		panic(fmt.Sprintf("%s: head dim %d (the kernels take 32 or 64)", api, D))
	}
	if B < 0 || N < 0 || H <= 0 {
		panic(fmt.Sprintf("%s: B=%d N=%d H=%d", api, B, N, H))
	}
	elems := int64(B) * int64(N) * int64(H) * int64(D)
	if qkv.bytes < 3*2*elems || out.bytes < 2*elems || lse.bytes < 4*int64(B*H*N) {
		panic(fmt.Sprintf("%s: buffers of %d, %d, %d bytes for B=%d N=%d H=%d D=%d",
			api, qkv.bytes, out.bytes, lse.bytes, B, N, H, D))
	}
	if qkv.ptr%16 != 0 {
		panic(api + ": qkv is not 16-byte aligned")
	}
	if B == 0 || N == 0 {
		return nil
	}
	scale := float32(math.Log2E / math.Sqrt(float64(D)))
	if k := d.AttentionKernel(); k != AttnTiled {
		if smem := attnHeadFwdSmem(N, D); smem <= d.smem {
			w := attnHeadWarps(k, D, false)
			return d.Launch(mod, fmt.Sprintf("attn_fwd_head_w%d_d%d%s", w, D, sfx), D1(B*H), D1(32*w), smem,
				qkv, out, lse, int32(B), int32(N), int32(H), scale)
		}
	}
	smem := 5 * 64 * (D + 8) * 2
	return d.Launch(mod, fmt.Sprintf("attn_fwd_d%d%s", D, sfx), Dim3{(N + 63) / 64, B * H, 1}, D1(128), smem,
		qkv, out, lse, int32(B), int32(N), int32(H), scale, d.attnSkip())
}

// AttentionBackward computes dqkv [B, N, 3, H, D] (fp16, every element
// written) from qkv, the forward output out and its lse, and the output
// gradient dout [B, N, H, D] (fp16). With AttnTiled three kernels, no
// atomics: the row dots dout·out, then dK and dV (a block per 64 keys), then
// dQ (a block per 64 queries). With the head-resident kernels (AttnAuto, the
// default, AttnHead, AttnHeadAlt) one kernel, a block per (batch, head) (see
// SetAttentionKernel).
func (d *Device) AttentionBackward(qkv, out, dout, lse, dqkv *Buffer, B, N, H, D int) error {
	return d.attentionBackward(false, qkv, out, dout, lse, dqkv, B, N, H, D)
}

// AttentionBackwardBF16 is AttentionBackward on bf16: qkv, out, dout and
// dqkv hold bf16, lse fp32; the bf16 twins of AttentionBackward's kernels
// (as AttentionForwardBF16). The row dots, P, dP and dS are computed in
// fp32; P and dS are rounded to bf16 for the products that take them (dV,
// dK, dQ), which accumulate in fp32, and dqkv is rounded to bf16. A bf16
// gradient needs no loss scaling: bf16 has fp32's exponent range.
func (d *Device) AttentionBackwardBF16(qkv, out, dout, lse, dqkv *Buffer, B, N, H, D int) error {
	return d.attentionBackward(true, qkv, out, dout, lse, dqkv, B, N, H, D)
}

func (d *Device) attentionBackward(bf bool, qkv, out, dout, lse, dqkv *Buffer, B, N, H, D int) error {
	api, mod, sfx := attnType("AttentionBackward", bf)
	if D != 32 && D != 64 {
		panic(fmt.Sprintf("%s: head dim %d (the kernels take 32 or 64)", api, D))
	}
	if B < 0 || N < 0 || H <= 0 {
		panic(fmt.Sprintf("%s: B=%d N=%d H=%d", api, B, N, H))
	}
	elems := int64(B) * int64(N) * int64(H) * int64(D)
	if qkv.bytes < 6*elems || dqkv.bytes < 6*elems || out.bytes < 2*elems || dout.bytes < 2*elems || lse.bytes < 4*int64(B*H*N) {
		panic(fmt.Sprintf("%s: buffers too small for B=%d N=%d H=%d D=%d", api, B, N, H, D))
	}
	for _, b := range []*Buffer{qkv, out, dout, dqkv} {
		if b.ptr%16 != 0 {
			panic(api + ": buffers must be 16-byte aligned")
		}
	}
	if B == 0 || N == 0 {
		return nil
	}
	scaleLog2 := float32(math.Log2E / math.Sqrt(float64(D)))
	scale := float32(1 / math.Sqrt(float64(D)))
	if k := d.AttentionKernel(); k != AttnTiled {
		if smem := attnHeadBwdSmem(N, D); smem <= d.smem {
			w := attnHeadWarps(k, D, true)
			return d.Launch(mod, fmt.Sprintf("attn_bwd_head_w%d_d%d%s", w, D, sfx), D1(B*H), D1(32*w), smem,
				qkv, out, dout, lse, dqkv, int32(B), int32(N), int32(H), scaleLog2, scale)
		}
	}
	dvec, err := d.AllocF32(B * H * N)
	if err != nil {
		return err
	}
	defer dvec.Free()
	threads := elems / 8
	if err := d.Launch(mod, fmt.Sprintf("attn_bwd_dot_d%d%s", D, sfx), D1(int((threads+255)/256)), D1(256), 0,
		out, dout, dvec, int32(B), int32(N), int32(H)); err != nil {
		return err
	}
	smem := 6 * 64 * (D + 8) * 2
	grid := Dim3{(N + 63) / 64, B * H, 1}
	for _, k := range []string{"dkdv", "dq"} {
		if err := d.Launch(mod, fmt.Sprintf("attn_bwd_%s_d%d%s", k, D, sfx), grid, D1(128), smem,
			qkv, dout, lse, dvec, dqkv, int32(B), int32(N), int32(H), scaleLog2, scale, d.attnSkip()); err != nil {
			return err
		}
	}
	return nil
}

// SetAttentionSkip chooses whether the attention kernels skip the work that
// lies wholly past N (the default, true): warps whose 16 rows are all past
// N do no arithmetic, and only the 16-row groups of the last key or query
// tile that hold rows below N enter the products. With false every 64×64
// tile is computed in full and masked, as the first kernels did. It returns
// the previous setting.
func (d *Device) SetAttentionSkip(on bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := !d.attnFull
	d.attnFull = !on
	return old
}

func (d *Device) attnSkip() int32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.attnFull {
		return 0
	}
	return 1
}

// AttentionKernel names a set of attention kernels (SetAttentionKernel).
type AttentionKernel int

const (
	// AttnAuto is the default: the head-resident kernels (AttnHead's
	// design) with the warp count that was faster for each head dim and
	// pass on an H100 (fifth session, bench gpu -only attn: forward 4 warps
	// at D = 32 and 8 at D = 64, backward 4 at both; forward + backward at
	// ViT-S/16 b256, 12 heads of 32, 2.2× the tiled kernels), the tiled
	// kernels where the head does not fit in shared memory.
	AttnAuto AttentionKernel = iota
	// AttnTiled: 64×64 tiles, grid (ceil(N/64), B·H), the backward in three
	// kernels (row dots, dK/dV, dQ); the only kernels before the fifth
	// session.
	AttnTiled
	// AttnHead runs one block per (batch, head) with the whole sequence of
	// that head in shared memory (Q, K, V for the forward; Q, K, V, dO, lse
	// and the row dots for the backward, which computes the dots itself):
	// its warps take 16-row units from a counter, the backward's key units
	// (dK, dV) first, then its query units (dQ, recomputing S and dP), so
	// that dqkv is written in one kernel without atomics. 4 warps a block at
	// D = 32, 8 at D = 64.
	AttnHead
	// AttnHeadAlt is AttnHead with the other warp count: 8 warps a block at
	// D = 32, 4 at D = 64.
	AttnHeadAlt
)

func (k AttentionKernel) String() string {
	switch k {
	case AttnAuto:
		return "auto"
	case AttnTiled:
		return "tiled"
	case AttnHead:
		return "head"
	case AttnHeadAlt:
		return "headalt"
	}
	return fmt.Sprintf("AttentionKernel(%d)", int(k))
}

// AttentionKernels lists every AttentionKernel, the default first.
var AttentionKernels = []AttentionKernel{AttnAuto, AttnTiled, AttnHead, AttnHeadAlt}

// attnKernels holds each device's SetAttentionKernel choice (kept here
// rather than in Device; absent means AttnAuto).
var attnKernels struct {
	mu sync.Mutex
	m  map[*Device]AttentionKernel
}

// SetAttentionKernel chooses the kernels AttentionForward and
// AttentionBackward launch and returns the previous choice. AttnAuto is the
// default; the head-resident kernels are used only where the head fits in
// the device's shared memory (4·ceil(N/16)·16·D·2 bytes and a little more
// for the backward: N up to about 430 at D = 64 on an H100) and fall back to
// the tiled kernels beyond.
func (d *Device) SetAttentionKernel(k AttentionKernel) AttentionKernel {
	if k < AttnAuto || k > AttnHeadAlt {
		panic(fmt.Sprintf("cuda.SetAttentionKernel: unknown kernel %d", int(k)))
	}
	attnKernels.mu.Lock()
	defer attnKernels.mu.Unlock()
	old := attnKernels.m[d]
	if attnKernels.m == nil {
		attnKernels.m = map[*Device]AttentionKernel{}
	}
	if k == AttnAuto {
		delete(attnKernels.m, d)
	} else {
		attnKernels.m[d] = k
	}
	return old
}

// AttentionKernel returns the kernels chosen by SetAttentionKernel.
func (d *Device) AttentionKernel() AttentionKernel {
	attnKernels.mu.Lock()
	defer attnKernels.mu.Unlock()
	return attnKernels.m[d]
}

// attnHeadWarps is the warps per block of the head-resident kernels, for
// the backward pass with bwd.
func attnHeadWarps(k AttentionKernel, D int, bwd bool) int {
	if k == AttnAuto {
		if bwd || D == 32 {
			return 4
		}
		return 8
	}
	if (k == AttnHead) == (D == 32) {
		return 4
	}
	return 8
}

// attnHeadFwdSmem and attnHeadBwdSmem are the dynamic shared memory of the
// head-resident kernels: Q, K, V (and dO) rows up to ceil(N/16)·16, the
// backward's lse and row dots up to ceil(N/32)·32, and a work counter.
func attnHeadFwdSmem(N, D int) int { return 3*((N+15)&^15)*D*2 + 16 }

func attnHeadBwdSmem(N, D int) int { return 4*((N+15)&^15)*D*2 + 8*((N+31)&^31) + 16 }
