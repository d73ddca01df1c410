package moco

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTopKMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 5, 200, 1000} {
		s := make([]float32, n)
		for i := range s {
			s[i] = r.Float32()
		}
		for _, k := range []int{1, 3, 200} {
			k = min(k, n)
			got := topK(nil, s, k)
			sort.Slice(got, func(a, b int) bool { return s[got[a]] > s[got[b]] })
			want := make([]int, n)
			for i := range want {
				want[i] = i
			}
			sort.Slice(want, func(a, b int) bool { return s[want[a]] > s[want[b]] })
			assert.Equal(t, want[:k], got, "n=%d k=%d", n, k)
		}
	}
}

func TestKNNSeparableClusters(t *testing.T) {
	// Three classes around orthogonal directions: kNN must be perfect;
	// with the labels of the bank shuffled it must be near chance.
	r := rand.New(rand.NewPCG(3, 4))
	const dim, per = 8, 50
	make3 := func() ([]float32, []int32) {
		var f []float32
		var l []int32
		for c := 0; c < 3; c++ {
			for i := 0; i < per; i++ {
				for d := 0; d < dim; d++ {
					v := float32(r.NormFloat64() * 0.1)
					if d == c {
						v += 1
					}
					f = append(f, v)
				}
				l = append(l, int32(c))
			}
		}
		return f, l
	}
	bank, bl := make3()
	q, ql := make3()
	knn, err := NewKNN(bank, bl, dim, 3, 20, 0.1)
	require.NoError(t, err)
	top1, top5, err := knn.Accuracy(q, ql)
	require.NoError(t, err)
	assert.Equal(t, 1.0, top1)
	assert.Equal(t, 1.0, top5)

	r.Shuffle(len(bl), func(i, j int) { bl[i], bl[j] = bl[j], bl[i] })
	knn, err = NewKNN(bank, bl, dim, 3, 20, 0.1)
	require.NoError(t, err)
	top1, _, err = knn.Accuracy(q, ql)
	require.NoError(t, err)
	assert.Less(t, top1, 0.6)

	_, err = NewKNN(bank, bl[:3], dim, 3, 20, 0.1)
	assert.ErrorContains(t, err, "kNN bank")
}

// TestKNNRefusesNonFinite checks that a NaN or infinite feature, in the
// bank or among the queries, is an error and not an accuracy.
func TestKNNRefusesNonFinite(t *testing.T) {
	feats := []float32{1, 0, 0, 1, 1, 0.1, 0.1, 1}
	labels := []int32{0, 1, 0, 1}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		b := append([]float32(nil), feats...)
		b[5] = bad
		_, err := NewKNN(b, labels, 2, 2, 3, 0.1)
		require.ErrorContains(t, err, "feature 1 of image 2")
		c, err := NewKNN(feats, labels, 2, 2, 3, 0.1)
		require.NoError(t, err)
		_, _, err = c.Accuracy(b, labels)
		require.ErrorContains(t, err, "not finite")
	}
}
