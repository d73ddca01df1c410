package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var maxThreads atomic.Int32

// SetThreads sets how many goroutines the kernels split their work over.
// n <= 0 restores the default, runtime.GOMAXPROCS(0).
func SetThreads(n int) {
	if n < 0 {
		n = 0
	}
	maxThreads.Store(int32(n))
}

// Threads reports how many goroutines the kernels split their work over.
func Threads() int {
	if n := int(maxThreads.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// parallelFor calls fn over [0, n) split into contiguous chunks, one chunk
// per worker, and returns when all are done. grain is the fewest items
// worth a goroutine of their own: small loops run on the caller alone.
func parallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	workers := Threads()
	if w := (n + grain - 1) / grain; w < workers {
		workers = w
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, min(chunk, n))
	wg.Wait()
}
