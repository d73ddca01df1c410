// Package moco is MoCo v3: a base encoder with projector and predictor, a
// momentum encoder that follows it by EMA, and the symmetric contrastive
// loss between the two views of each image.
package moco

import "github.com/mocogo/mocogo/engine"

// ContrastiveLoss is MoCo v3's InfoNCE between queries q and keys k, both
// [N, C]: each row is L2-normalised, logits = q·kᵀ/T, the positive of row
// i is key i, and the cross-entropy is scaled by 2T as in the official
// code. Gradients flow into q only when k comes from the momentum encoder.
func ContrastiveLoss(q, k *engine.Tensor, temperature float64) *engine.Tensor {
	qn := engine.L2Normalize(q, 1e-12)
	kn := engine.L2Normalize(k, 1e-12)
	logits := engine.Scale(engine.MatMul(qn, kn, false, true), 1/temperature)
	return engine.Scale(engine.CrossEntropy(logits, arange(q.Dim(0))), 2*temperature)
}

// SymmetricLoss is L(q1, k2) + L(q2, k1).
func SymmetricLoss(q1, q2, k1, k2 *engine.Tensor, temperature float64) *engine.Tensor {
	return engine.Add(ContrastiveLoss(q1, k2, temperature), ContrastiveLoss(q2, k1, temperature))
}

func arange(n int) []int32 {
	l := make([]int32, n)
	for i := range l {
		l[i] = int32(i)
	}
	return l
}
