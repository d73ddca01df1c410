package kernels

import "sync"

// gemmWorker is work split over nw workers: work(w, nw) does worker w's share.
type gemmWorker interface {
	work(w, nw int)
}

type gemmTask struct {
	r     gemmWorker
	w, nw int
	wg    *sync.WaitGroup
}

// A persistent pool of goroutines runs the shares of workers 1..nw-1 so that
// a call neither spawns goroutines nor allocates closures.
var gemmPool struct {
	mu      sync.Mutex
	ch      chan gemmTask
	started int
}

func ensureGemmWorkers(n int) {
	gemmPool.mu.Lock()
	if gemmPool.ch == nil {
		gemmPool.ch = make(chan gemmTask, 64)
	}
	for gemmPool.started < n {
		gemmPool.started++
		go func(ch chan gemmTask) {
			for t := range ch {
				t.r.work(t.w, t.nw)
				t.wg.Done()
			}
		}(gemmPool.ch)
	}
	gemmPool.mu.Unlock()
}

// runWorkers runs r.work(w, nw) for every w in [0, nw), worker 0 on the
// calling goroutine, and returns when all are done. The shares must not
// themselves call runWorkers.
func runWorkers(r gemmWorker, nw int, wg *sync.WaitGroup) {
	if nw <= 1 {
		r.work(0, 1)
		return
	}
	ensureGemmWorkers(nw - 1)
	wg.Add(nw - 1)
	for w := 1; w < nw; w++ {
		gemmPool.ch <- gemmTask{r: r, w: w, nw: nw, wg: wg}
	}
	r.work(0, nw)
	wg.Wait()
}
