//go:build cuda

package main

import (
	"fmt"
	"slices"
	"time"
	"unsafe"

	"github.com/mocogo/mocogo/engine/cuda"
)

// uploadBench measures what pretrain's read-ahead relies on: an upload on
// the upload stream (Device.UploadAsync) running beside kernels on the
// default stream. One ViT-S/16 view batch (256 × 3 × 224² fp32, 154 MB) is
// uploaded alone through the default stream's staging (upload_sync) and
// through UploadAsync (upload_async), then beside a run of 4096³ GEMMs of
// about the same length: upload_overlap is the fraction of the shorter of
// the two that the overlap hid, (t_gemm + t_upload − t_both) / min(t_gemm,
// t_upload): 1 when the upload costs the kernels nothing, 0 when the two
// ran one after the other. Wall-clock times around Synchronize, medians of
// b.iters runs.
func (b *gpuBench) uploadBench() error {
	if !b.wants("upload_sync_gbps") && !b.wants("upload_async_gbps") && !b.wants("upload_overlap") {
		return nil
	}
	const n = 256 * 3 * 224 * 224
	host := make([]float32, n)
	for i := range host {
		host[i] = float32(i%251) / 251
	}
	dst, err := b.d.AllocF32(n)
	if err != nil {
		return err
	}
	defer dst.Free()
	const m = 4096
	ga, err := b.randHalf(m * m)
	if err != nil {
		return err
	}
	defer ga.Free()
	gb, err := b.randHalf(m * m)
	if err != nil {
		return err
	}
	defer gb.Free()
	gc, err := b.d.AllocF16(m * m)
	if err != nil {
		return err
	}
	defer gc.Free()

	wall := func(fn func() error) (float64, error) {
		var ts []float64
		for i := 0; i < 2+b.iters; i++ {
			if err := b.d.Synchronize(); err != nil {
				return 0, err
			}
			t0 := time.Now()
			if err := fn(); err != nil {
				return 0, err
			}
			if err := b.d.Synchronize(); err != nil {
				return 0, err
			}
			if i >= 2 {
				ts = append(ts, time.Since(t0).Seconds()*1e3)
			}
		}
		slices.Sort(ts)
		return ts[len(ts)/2], nil
	}
	upload := func() error {
		if err := b.d.UploadAsync(dst, unsafe.Pointer(&host[0]), 4*n); err != nil {
			return err
		}
		return b.d.AwaitUploads()
	}
	tSync, err := wall(func() error { return dst.CopyFromF32(host) })
	if err != nil {
		return err
	}
	tUp, err := wall(upload)
	if err != nil {
		return err
	}
	result("upload_sync_gbps", 4*n/tSync/1e6, "GB/s", tSync)
	result("upload_async_gbps", 4*n/tUp/1e6, "GB/s", tUp)
	// GEMMs for about as long as the upload took alone.
	one, err := wall(func() error {
		return b.d.GemmF16(false, true, m, m, m, 1, ga, m, gb, m, 0, gc, m, cuda.Epilogue{OutF16: true})
	})
	if err != nil {
		return err
	}
	reps := max(1, int(tUp/one+0.5))
	gemms := func() error {
		for range reps {
			if err := b.d.GemmF16(false, true, m, m, m, 1, ga, m, gb, m, 0, gc, m, cuda.Epilogue{OutF16: true}); err != nil {
				return err
			}
		}
		return nil
	}
	tGemm, err := wall(gemms)
	if err != nil {
		return err
	}
	tBoth, err := wall(func() error {
		if err := gemms(); err != nil { // queued first, as a step's kernels are
			return err
		}
		return upload()
	})
	if err != nil {
		return err
	}
	overlap := (tGemm + tUp - tBoth) / min(tGemm, tUp)
	fmt.Printf("upload: alone %.2f ms, %d GEMMs %.2f ms, both %.2f ms\n", tUp, reps, tGemm, tBoth)
	result("upload_overlap", overlap, "fraction", tBoth)
	return nil
}
