package data

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Position is where a Loader stands: the epoch and the index of the next
// batch within it. Saving Position() after consuming a batch and passing
// it as LoaderConfig.Start resumes with exactly the batches that would
// have followed.
type Position struct {
	Epoch int
	Batch int
}

// LoaderConfig configures NewLoader.
type LoaderConfig struct {
	BatchSize int
	// Workers decoding and augmenting in parallel; 0 means runtime.NumCPU().
	Workers int
	// Prefetch is the number of batches prepared ahead; 0 means 2.
	Prefetch int
	// Seed of the shuffle and of every augmentation.
	Seed uint64
	// Shuffle reorders the dataset every epoch (a permutation drawn from
	// Seed and the epoch).
	Shuffle bool
	// DropLast drops the final incomplete batch of an epoch; otherwise it
	// is yielded with fewer samples.
	DropLast bool
	// SkipErrors replaces a sample that fails to load with a
	// deterministic substitute (and counts it in Skipped) instead of
	// failing the batch.
	SkipErrors bool
	// Start is the position of the first batch.
	Start Position
}

// Batch is one batch of N samples: Views[v] holds N×3×Size×Size float32
// values (NCHW) for view v; Labels and Indices (dataset indices) have N
// entries. N is the batch size except for the last batch of an epoch
// without DropLast. A Batch returned by Next is owned by the Loader and valid until
// the next call to Next or Close.
type Batch struct {
	Pos     Position
	N       int
	Size    int
	Views   [][]float32
	Labels  []int32
	Indices []int

	bufs      [][]float32 // full-capacity view buffers
	labelBuf  []int32
	idxBuf    []int
	remaining atomic.Int32
	skipped   atomic.Int32
	ready     chan struct{} // receives one token when all samples are done
	errMu     sync.Mutex
	err       error
	errSlot   int
}

// View returns the NCHW data of view v (the same as Views[v]).
func (b *Batch) View(v int) []float32 { return b.Views[v] }

type job struct {
	b    *Batch
	slot int
}

// Loader yields batches of augmented samples, prepared by worker
// goroutines ahead of the consumer.
type Loader struct {
	ds  Dataset
	tf  Transform
	cfg LoaderConfig
	n   int // dataset length
	nb  int // batches per epoch

	free    chan *Batch // recycled batch buffers
	ordered chan *Batch // batches in order, maybe not finished yet
	jobs    chan job
	quit    chan struct{}
	wg      sync.WaitGroup
	closeMu sync.Once

	cur     *Batch
	pos     Position
	skipped atomic.Int64
	perm    []int // dispatcher's current epoch order
	permEp  int
	err     error
}

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("data: loader closed")

// BatchError is the error Next returns for a batch with a sample that
// failed to load (SkipErrors off). Its message counts epochs and batches
// from 1, as people and progress displays do ("epoch 1, batch 3 of
// 8"); Pos, like every Position, counts from 0.
type BatchError struct {
	Pos     Position // where the batch stands
	Batches int      // batches in an epoch
	Err     error    // the first failing sample's error, naming it
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("data: epoch %d, batch %d of %d: %v", e.Pos.Epoch+1, e.Pos.Batch+1, e.Batches, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// NewLoader starts the workers and the dispatcher.
func NewLoader(ds Dataset, tf Transform, cfg LoaderConfig) (*Loader, error) {
	n := ds.Len()
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("data: loader: batch size %d", cfg.BatchSize)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2
	}
	nb := n / cfg.BatchSize
	if !cfg.DropLast && n%cfg.BatchSize != 0 {
		nb++
	}
	if nb == 0 {
		return nil, fmt.Errorf("data: loader: %d samples make no batch of %d (DropLast %v)", n, cfg.BatchSize, cfg.DropLast)
	}
	if cfg.Start.Epoch < 0 || cfg.Start.Batch < 0 || cfg.Start.Batch > nb {
		return nil, fmt.Errorf("data: loader: start position %+v outside an epoch of %d batches", cfg.Start, nb)
	}
	if cfg.Start.Batch == nb {
		cfg.Start = Position{cfg.Start.Epoch + 1, 0}
	}
	l := &Loader{
		ds: ds, tf: tf, cfg: cfg, n: n, nb: nb,
		free:    make(chan *Batch, cfg.Prefetch+1),
		ordered: make(chan *Batch, cfg.Prefetch),
		jobs:    make(chan job, cfg.BatchSize*cfg.Prefetch),
		quit:    make(chan struct{}),
		pos:     cfg.Start,
		permEp:  -1,
	}
	V, S := tf.Views(), tf.Size()
	for range cfg.Prefetch + 1 {
		b := &Batch{Size: S, Views: make([][]float32, V), bufs: make([][]float32, V),
			labelBuf: make([]int32, cfg.BatchSize), idxBuf: make([]int, cfg.BatchSize),
			ready: make(chan struct{}, 1)}
		for v := range b.bufs {
			b.bufs[v] = make([]float32, cfg.BatchSize*3*S*S)
		}
		l.free <- b
	}
	l.wg.Add(1 + cfg.Workers)
	go l.dispatch()
	for range cfg.Workers {
		go l.work()
	}
	return l, nil
}

// BatchesPerEpoch is the number of batches in one epoch.
func (l *Loader) BatchesPerEpoch() int { return l.nb }

// Position is the position of the next batch Next will return.
func (l *Loader) Position() Position { return l.pos }

// Skipped is the number of failed loads replaced by substitutes in the
// batches returned so far (SkipErrors only).
func (l *Loader) Skipped() int64 { return l.skipped.Load() }

// EpochOrder returns the dataset indices of epoch e in the order the
// loader visits them.
func (l *Loader) EpochOrder(e int) []int {
	p := make([]int, l.n)
	l.epochOrder(e, p)
	return p
}

func (l *Loader) epochOrder(e int, p []int) {
	if !l.cfg.Shuffle {
		for i := range p {
			p[i] = i
		}
		return
	}
	var r RNG
	r.Reset(l.cfg.Seed, uint64(e), 0, streamShuffle)
	r.Perm(p)
}

func (l *Loader) dispatch() {
	defer l.wg.Done()
	defer close(l.jobs)
	pos := l.cfg.Start
	l.perm = make([]int, l.n)
	for {
		var b *Batch
		select {
		case b = <-l.free:
		case <-l.quit:
			return
		}
		if l.permEp != pos.Epoch {
			l.epochOrder(pos.Epoch, l.perm)
			l.permEp = pos.Epoch
		}
		lo := pos.Batch * l.cfg.BatchSize
		hi := min(lo+l.cfg.BatchSize, l.n)
		b.Pos = pos
		b.N = hi - lo
		b.err = nil
		for v := range b.Views {
			b.Views[v] = b.bufs[v][:b.N*3*b.Size*b.Size]
		}
		b.Labels = b.labelBuf[:b.N]
		b.Indices = b.idxBuf[:b.N]
		copy(b.Indices, l.perm[lo:hi])
		b.remaining.Store(int32(b.N))
		b.skipped.Store(0)
		// Hand the batch to the consumer first (in order), then its samples
		// to the workers; the consumer waits on b.ready.
		select {
		case l.ordered <- b:
		case <-l.quit:
			return
		}
		for s := 0; s < b.N; s++ {
			select {
			case l.jobs <- job{b, s}:
			case <-l.quit:
				return
			}
		}
		pos.Batch++
		if pos.Batch == l.nb {
			pos = Position{pos.Epoch + 1, 0}
		}
	}
}

func (l *Loader) work() {
	defer l.wg.Done()
	var s Scratch
	var rng RNG
	smp := new(Sample)
	dst := make([][]float32, l.tf.Views())
	for {
		var j job
		select {
		case jj, ok := <-l.jobs:
			if !ok {
				return
			}
			j = jj
		case <-l.quit:
			return
		}
		b := j.b
		plane := 3 * b.Size * b.Size
		for v := range dst {
			dst[v] = b.Views[v][j.slot*plane : (j.slot+1)*plane]
		}
		idx := b.Indices[j.slot]
		label, err := l.loadOne(idx, b.Pos.Epoch, dst, &rng, &s, smp)
		if err != nil && l.cfg.SkipErrors {
			// Deterministic substitutes: idx+k·7919 for k = 1…16.
			for k := 1; k <= 16 && err != nil; k++ {
				b.skipped.Add(1)
				sub := (idx + k*7919) % l.n
				label, err = l.loadOne(sub, b.Pos.Epoch, dst, &rng, &s, smp)
				if err == nil {
					b.Indices[j.slot] = sub
				}
			}
		}
		if err != nil {
			b.errMu.Lock()
			if b.err == nil || j.slot < b.errSlot {
				b.err, b.errSlot = err, j.slot
			}
			b.errMu.Unlock()
		}
		b.Labels[j.slot] = int32(label)
		if b.remaining.Add(-1) == 0 {
			b.ready <- struct{}{}
		}
	}
}

func (l *Loader) loadOne(idx, epoch int, dst [][]float32, rng *RNG, s *Scratch, smp *Sample) (label int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("data: %s: panic while loading: %v", itemName(l.ds, idx), r)
		}
	}()
	// smp is the worker's: a local would escape through the Transform
	// interface and cost an allocation per sample.
	*smp, err = l.ds.Item(idx)
	if err != nil {
		return 0, err
	}
	rng.SampleRNG(l.cfg.Seed, uint64(epoch), uint64(idx))
	if err := l.tf.Apply(dst, &smp.Image, rng, s); err != nil {
		return 0, fmt.Errorf("data: %s: %w", itemName(l.ds, idx), err)
	}
	return smp.Label, nil
}

// Next returns the next batch. The previous batch is recycled. A sample
// that fails to load makes Next return a *BatchError naming it (unless
// SkipErrors); the loader's position then stays on that batch.
func (l *Loader) Next() (*Batch, error) {
	if l.err != nil {
		return nil, l.err
	}
	select {
	case <-l.quit:
		return nil, ErrClosed
	default:
	}
	if l.cur != nil {
		l.free <- l.cur // capacity Prefetch+1 never fills: cannot block
		l.cur = nil
	}
	var b *Batch
	select {
	case b = <-l.ordered:
	case <-l.quit:
		return nil, ErrClosed
	}
	select {
	case <-b.ready:
	case <-l.quit:
		return nil, ErrClosed
	}
	if b.err != nil {
		l.err = &BatchError{Pos: b.Pos, Batches: l.nb, Err: b.err}
		l.free <- b
		return nil, l.err
	}
	l.cur = b
	l.skipped.Add(int64(b.skipped.Load()))
	l.pos = b.Pos
	l.pos.Batch++
	if l.pos.Batch == l.nb {
		l.pos = Position{l.pos.Epoch + 1, 0}
	}
	return b, nil
}

// Close stops the dispatcher and the workers and waits for them. It is
// safe to call more than once, and from another goroutine than the one
// calling Next (a blocked Next then returns ErrClosed).
func (l *Loader) Close() error {
	l.closeMu.Do(func() {
		close(l.quit)
		l.wg.Wait()
	})
	return nil
}
