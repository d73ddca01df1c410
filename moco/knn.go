package moco

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/mocogo/mocogo/kernels"
)

// KNN is the weighted k-nearest-neighbour classifier of the MoCo CIFAR
// demo and of InstDisc: features are L2-normalised, the k most similar
// bank features (cosine similarity s) vote for their class with weight
// exp(s/t). The defaults are k = 200, t = 0.1.
type KNN struct {
	K           int
	Temperature float64
	Classes     int
	bank        []float32 // [n, dim], rows normalised
	labels      []int32
	dim         int
}

// NewKNN returns a classifier over the bank of features [n, dim] with
// their labels in [0, classes). It copies and normalises the features.
func NewKNN(features []float32, labels []int32, dim, classes, k int, temperature float64) (*KNN, error) {
	if dim <= 0 || len(features) != len(labels)*dim {
		return nil, fmt.Errorf("moco: kNN bank of %d values for %d labels of dimension %d", len(features), len(labels), dim)
	}
	if k <= 0 || temperature <= 0 || classes <= 0 {
		return nil, fmt.Errorf("moco: kNN needs k, temperature and classes > 0 (got %d, %g, %d)", k, temperature, classes)
	}
	for i, l := range labels {
		if l < 0 || int(l) >= classes {
			return nil, fmt.Errorf("moco: kNN bank label %d of sample %d outside [0, %d)", l, i, classes)
		}
	}
	if err := checkFinite("bank", features, dim); err != nil {
		return nil, err
	}
	bank := append([]float32(nil), features...)
	normalizeRows(bank, dim)
	return &KNN{K: min(k, len(labels)), Temperature: temperature, Classes: classes, bank: bank, labels: append([]int32(nil), labels...), dim: dim}, nil
}

// ErrNonFiniteFeatures is wrapped by the kNN classifier's errors for a NaN
// or infinite feature.
var ErrNonFiniteFeatures = errors.New("the backbone's output is not finite")

// checkFinite reports the first feature that is NaN or infinite: its
// similarities would be NaN and its votes meaningless, and an accuracy
// computed from them would look like a result.
func checkFinite(what string, features []float32, dim int) error {
	for i, v := range features {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("moco: kNN %s feature %d of image %d is %g: %w", what, i%dim, i/dim, v, ErrNonFiniteFeatures)
		}
	}
	return nil
}

func normalizeRows(x []float32, dim int) {
	for r := 0; r+dim <= len(x); r += dim {
		var ss float64
		for _, v := range x[r : r+dim] {
			ss += float64(v) * float64(v)
		}
		inv := float32(1 / math.Max(math.Sqrt(ss), 1e-12))
		for j := range x[r : r+dim] {
			x[r+j] *= inv
		}
	}
}

// Accuracy classifies the query features [n, dim] and returns the top-1
// and top-5 accuracy (fractions) against labels.
func (c *KNN) Accuracy(features []float32, labels []int32) (top1, top5 float64, err error) {
	n := len(labels)
	if len(features) != n*c.dim {
		return 0, 0, fmt.Errorf("moco: kNN queries of %d values for %d labels of dimension %d", len(features), n, c.dim)
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("moco: kNN with no queries")
	}
	if err := checkFinite("query", features, c.dim); err != nil {
		return 0, 0, err
	}
	q := append([]float32(nil), features...)
	normalizeRows(q, c.dim)
	bankN := len(c.labels)
	const chunk = 256
	sims := make([]float32, chunk*bankN)
	idx := make([]int, 0, c.K)
	votes := make([]float64, c.Classes)
	order := make([]int, c.Classes)
	var hit1, hit5 int
	for lo := 0; lo < n; lo += chunk {
		rows := min(chunk, n-lo)
		kernels.Sgemm(false, true, rows, bankN, c.dim, 1, q[lo*c.dim:], c.dim, c.bank, c.dim, 0, sims, bankN)
		for r := 0; r < rows; r++ {
			s := sims[r*bankN : (r+1)*bankN]
			top := topK(idx[:0], s, c.K)
			clear(votes)
			for _, j := range top {
				votes[c.labels[j]] += math.Exp(float64(s[j]) / c.Temperature)
			}
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(a, b int) bool { return votes[order[a]] > votes[order[b]] })
			want := int(labels[lo+r])
			if order[0] == want {
				hit1++
			}
			for _, cl := range order[:min(5, c.Classes)] {
				if cl == want {
					hit5++
					break
				}
			}
		}
	}
	return float64(hit1) / float64(n), float64(hit5) / float64(n), nil
}

// topK returns the indices of the k largest values of s (in no order),
// keeping a min-heap of the best k seen: O(n log k).
func topK(heap []int, s []float32, k int) []int {
	less := func(a, b int) bool { return s[heap[a]] < s[heap[b]] }
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(heap) {
				return
			}
			m := l
			if r := l + 1; r < len(heap) && less(r, l) {
				m = r
			}
			if !less(m, i) {
				return
			}
			heap[i], heap[m] = heap[m], heap[i]
			i = m
		}
	}
	for j := range s {
		switch {
		case len(heap) < k:
			heap = append(heap, j)
			for i := len(heap) - 1; i > 0; {
				p := (i - 1) / 2
				if !less(i, p) {
					break
				}
				heap[i], heap[p] = heap[p], heap[i]
				i = p
			}
		case s[j] > s[heap[0]]:
			heap[0] = j
			down(0)
		}
	}
	return heap
}
