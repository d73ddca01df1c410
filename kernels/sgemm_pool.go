package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// gemmWorker is work split over nw workers: work(w, nw) does worker w's share.
type gemmWorker interface {
	work(w, nw int)
}

// gemmJoin is what runWorkers waits on: pending counts the shares not yet
// done, for spinning, and wg the same, for blocking.
type gemmJoin struct {
	pending atomic.Int32
	wg      sync.WaitGroup
}

type gemmTask struct {
	r     gemmWorker
	w, nw int
	join  *gemmJoin
}

// A persistent pool of goroutines runs the shares of workers 1..nw-1, so a
// call neither spawns goroutines nor allocates closures. A GEMM runs a
// parallel phase per block, often only tens of microseconds long, so after
// each share a worker polls for the next one for a while (gemmSpin) before
// it blocks: waking a parked thread takes longer than such a phase.
var gemmPool struct {
	mu      sync.Mutex
	ch      chan gemmTask
	started int
}

const gemmSpin = 200 * time.Microsecond

func ensureGemmWorkers(n int) chan gemmTask {
	gemmPool.mu.Lock()
	defer gemmPool.mu.Unlock()
	if gemmPool.ch == nil {
		gemmPool.ch = make(chan gemmTask, 64)
	}
	for gemmPool.started < n {
		gemmPool.started++
		go gemmWorkerLoop(gemmPool.ch)
	}
	return gemmPool.ch
}

func gemmWorkerLoop(ch chan gemmTask) {
	for {
		var t gemmTask
		select {
		case t = <-ch:
		default:
			t = spinRecv(ch)
		}
		t.r.work(t.w, t.nw)
		t.join.pending.Add(-1)
		t.join.wg.Done()
	}
}

// spinRecv polls ch for gemmSpin, yielding to other goroutines now and then,
// and then blocks on it.
func spinRecv(ch chan gemmTask) gemmTask {
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case t := <-ch:
			return t
		default:
		}
		if i%64 == 0 {
			if time.Since(start) > gemmSpin {
				return <-ch
			}
			runtime.Gosched()
		}
	}
}

// runWorkers runs r.work(w, nw) for every w in [0, nw), worker 0 on the
// calling goroutine, and returns when all are done. The shares must not
// themselves call runWorkers.
func runWorkers(r gemmWorker, nw int, join *gemmJoin) {
	if nw <= 1 {
		r.work(0, 1)
		return
	}
	ch := ensureGemmWorkers(nw - 1)
	join.pending.Store(int32(nw - 1))
	join.wg.Add(nw - 1)
	for w := 1; w < nw; w++ {
		ch <- gemmTask{r: r, w: w, nw: nw, join: join}
	}
	r.work(0, nw)
	// Spin briefly for the others, then block.
	start := time.Now()
	for i := 1; join.pending.Load() != 0; i++ {
		if i%64 == 0 {
			if time.Since(start) > gemmSpin {
				break
			}
			runtime.Gosched()
		}
	}
	join.wg.Wait()
}
