package cuda

import "testing"

func TestSizeClass(t *testing.T) {
	for _, c := range []struct{ in, want int64 }{
		{0, 512}, {1, 512}, {512, 512}, {513, 1024}, {1<<20 - 1, 1 << 20}, {1 << 20, 1 << 20},
		{1<<20 + 1, 2 << 20}, {150 << 20, 150 << 20},
	} {
		if got := sizeClass(c.in); got != c.want {
			t.Errorf("sizeClass(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}
