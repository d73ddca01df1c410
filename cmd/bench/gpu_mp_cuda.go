//go:build cuda

package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/engine/cuda"
)

// mixedBench (group mp) times a ViT-S/16 fc1 forward at batch 256 (x
// [256·197, 384], W [1536, 384], y = GELU(x·Wᵀ + b)) through the backend
// three ways: fp32 storage as before autocast (Gemm casting both operands
// to scaled fp16 copies, then Binary and Unary in fp32), fp16 storage with
// the same three calls, and fp16 storage through GemmBias (bias and GELU in
// the GEMM's epilogue). It also reports the bytes the forward holds at its
// peak for fp32 and fp16 storage (tensors plus the GEMM's scratch).
func (b *gpuBench) mixedBench() error {
	const rows, in, hid = 256 * 197, 384, 1536
	g := cuda.NewBackend(b.d)
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, rows*in)
	for i := range x {
		x[i] = float32(r.Float64()*2 - 1)
	}
	w := make([]float32, hid*in)
	for i := range w {
		w[i] = float32((r.Float64()*2 - 1) * 0.05)
	}
	flops := 2 * float64(rows) * hid * in
	for _, v := range []struct {
		key   string
		dt    engine.DType
		fused bool
	}{
		{"fc1_vits_b256_f32store", engine.F32, false},
		{"fc1_vits_b256_f16store", engine.F16, false},
		{"fc1_vits_b256_f16store_gemmbias", engine.F16, true},
	} {
		if !b.wants(v.key + "_tflops") {
			continue
		}
		if err := b.d.Synchronize(); err != nil {
			return err
		}
		base := b.d.MemStats().InUse
		xs, ws := g.AllocAs(v.dt, rows*in), g.AllocAs(v.dt, hid*in)
		bias, ys := g.Alloc(hid), g.AllocAs(v.dt, rows*hid)
		g.Upload32(xs, x)
		g.Upload32(ws, w)
		g.Fill(bias, 0.01)
		fwd := func() error {
			if v.fused {
				g.GemmBias(false, true, rows, hid, in, xs, ws, bias, ys, true)
			} else {
				g.Gemm(false, true, 1, rows, hid, in, 1, xs, 0, ws, 0, 0, ys, 0)
				g.Binary(engine.OpAdd, ys, ys, bias)
				g.Unary(engine.OpGELU, ys, ys)
			}
			return nil
		}
		if err := b.d.Synchronize(); err != nil {
			return err
		}
		b.d.ResetPeak()
		ms, err := b.time(fwd)
		peak := b.d.MemStats().Peak - base
		for _, s := range []engine.Storage{xs, ws, bias, ys} {
			g.Release(s)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", v.key, err)
		}
		result(v.key+"_tflops", flops/ms/1e9, "TFLOP/s", ms)
		result(v.key+"_peak_mib", float64(peak)/(1<<20), "MiB", ms)
	}
	return nil
}
