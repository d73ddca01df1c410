//go:build cuda

package cuda

import "fmt"

// lnVariant returns the smallest compiled register width V (float4s per
// lane, cols ≤ 128·V) that fits cols.
func lnVariant(op string, cols int) int {
	if cols <= 0 || cols%4 != 0 || cols > 1024 {
		panic(fmt.Sprintf("cuda.%s: %d columns; the GPU kernels take multiples of 4 up to 1024", op, cols))
	}
	for _, v := range []int{1, 2, 3, 4, 6, 8} {
		if cols <= 128*v {
			return v
		}
	}
	panic("unreachable")
}

func checkF32(op, name string, b *Buffer, n int, optional bool) {
	checkBuf(op, name, b, 0, n, optional)
}

// elemBytes is the size of an element of type code t (0 fp32, 2 fp16,
// 3 bf16).
func elemBytes(t int32) int64 {
	if t == dtF16 || t == dtBF16 {
		return 2
	}
	return 4
}

// checkBuf panics unless b holds n elements of type code t, 16-byte aligned.
func checkBuf(op, name string, b *Buffer, t int32, n int, optional bool) {
	if b == nil {
		if !optional {
			panic(fmt.Sprintf("cuda.%s: %s is nil", op, name))
		}
		return
	}
	if b.bytes < elemBytes(t)*int64(n) {
		panic(fmt.Sprintf("cuda.%s: %s has %d bytes, need %d values of %d bytes", op, name, b.bytes, n, elemBytes(t)))
	}
	if b.ptr%16 != 0 {
		panic(fmt.Sprintf("cuda.%s: %s is not 16-byte aligned", op, name))
	}
}

// LayerNormForward normalises rows rows of cols fp32 values of x into y:
// y = (x−mean)·rstd·gamma + beta (gamma, beta may be nil), saving mean and
// rstd (rows values each) for the backward pass. cols must be a multiple of
// 4, at most 1024.
func (d *Device) LayerNormForward(y, x, gamma, beta, mean, rstd *Buffer, rows, cols int, eps float32) error {
	return d.layerNormForward(y, 0, x, 0, gamma, beta, mean, rstd, rows, cols, eps)
}

// layerNormForward is LayerNormForward with y and x of the given type codes
// (0 fp32, 2 fp16, 3 bf16).
func (d *Device) layerNormForward(y *Buffer, yt int32, x *Buffer, xt int32, gamma, beta, mean, rstd *Buffer, rows, cols int, eps float32) error {
	const op = "LayerNormForward"
	v := lnVariant(op, cols)
	checkBuf(op, "x", x, xt, rows*cols, false)
	checkBuf(op, "y", y, yt, rows*cols, false)
	checkF32(op, "gamma", gamma, cols, true)
	checkF32(op, "beta", beta, cols, true)
	checkF32(op, "mean", mean, rows, false)
	checkF32(op, "rstd", rstd, rows, false)
	if rows == 0 {
		return nil
	}
	return d.Launch("layernorm", fmt.Sprintf("layernorm_fwd_%d", v), D1((rows+7)/8), D1(256), 0,
		y, yt, mean, rstd, x, xt, gamma, beta, int32(rows), int32(cols), eps)
}

// LayerNormBackward computes dx from dy, x and the saved statistics, and
// adds the gradients of gamma and beta into dgamma and dbeta (either may be
// nil; gamma nil means gamma = 1).
func (d *Device) LayerNormBackward(dx, dy, x, gamma, mean, rstd, dgamma, dbeta *Buffer, rows, cols int) error {
	return d.layerNormBackward(dx, 0, dy, 0, x, 0, gamma, mean, rstd, dgamma, dbeta, rows, cols)
}

// layerNormBackward is LayerNormBackward with dx, dy and x of the given
// type codes (0 fp32, 2 fp16, 3 bf16).
func (d *Device) layerNormBackward(dx *Buffer, dxt int32, dy *Buffer, dyt int32, x *Buffer, xt int32, gamma, mean, rstd, dgamma, dbeta *Buffer, rows, cols int) error {
	const op = "LayerNormBackward"
	v := lnVariant(op, cols)
	checkBuf(op, "x", x, xt, rows*cols, false)
	checkBuf(op, "dy", dy, dyt, rows*cols, false)
	checkBuf(op, "dx", dx, dxt, rows*cols, false)
	checkF32(op, "gamma", gamma, cols, true)
	checkF32(op, "mean", mean, rows, false)
	checkF32(op, "rstd", rstd, rows, false)
	checkF32(op, "dgamma", dgamma, cols, true)
	checkF32(op, "dbeta", dbeta, cols, true)
	if rows == 0 {
		return nil
	}
	parts := (rows + 7) / 8
	if p := 2 * d.sms; parts > p {
		parts = p
	}
	var pg, pb *Buffer
	var err error
	if dgamma != nil {
		if pg, err = d.AllocF32(parts * cols); err != nil {
			return err
		}
		defer pg.Free()
	}
	if dbeta != nil {
		if pb, err = d.AllocF32(parts * cols); err != nil {
			return err
		}
		defer pb.Free()
	}
	if err := d.Launch("layernorm", fmt.Sprintf("layernorm_bwd_%d", v), D1(parts), D1(256), 0,
		dx, dxt, pg, pb, dy, dyt, x, xt, gamma, mean, rstd, int32(rows), int32(cols)); err != nil {
		return err
	}
	if dgamma == nil && dbeta == nil {
		return nil
	}
	return d.Launch("layernorm", "layernorm_bwd_reduce", D1((cols+31)/32), Dim3{32, 16, 1}, 0,
		dgamma, dbeta, pg, pb, int32(parts), int32(cols))
}
