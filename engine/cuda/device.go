//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/mocogo/mocogo/kernels"
	"gorgonia.org/cu"
)

// Device is one GPU with its own context. Use it from any goroutine; calls
// are serialised.
type Device struct {
	mu    sync.Mutex
	dev   cu.Device
	ctx   cu.CUContext
	name  string
	sms   int
	major int
	minor int
	l2    int
	smem  int // opt-in shared memory per block

	gemmNT         GemmKernel // kernel for GemmF16's aligned NT layout (GemmAuto: by device)
	gemmSplit      int        // GemmF16's split-K: 0 automatic, 1 never, n ≥ 2 forced
	gemmStaged     bool       // the mma.sync and wgmma kernels stage C through shared memory (SetGemmStaged)
	gemmStagger    bool       // the persistent TMA kernels' second consumer starts behind the first (SetGemmStagger)
	gemmResidualOn bool       // residuals added in the ping-pong kernels' epilogue (SetGemmResidual)
	gemmGELUGradOn bool       // GELU′ applied in the ping-pong kernels' epilogue (SetGemmGELUGrad)
	gemmStreamKOn  bool       // weight gradients split stream-K instead of split-K (SetGemmStreamK)
	gemmPrefetch   bool       // the persistent TMA kernels' producer prefetches A a tile ahead (SetGemmPrefetch)
	gemmDeepStore  bool       // the 128×192 TMA-store kernels stage a whole half-C piece (SetGemmDeepStore)
	gemmNarrow     bool       // the TMA-store kernels take 128×192 tiles for any n (SetGemmNarrowTiles)
	gemmClusterSK  bool       // weight gradients split over clusters sharing B (SetGemmClusterSplitK)
	gemmWideBoxes  bool       // the weight gradients' partials load each tile in one 3-D box (SetGemmWideBoxes)
	gemmEarly      bool       // the persistent TMA kernels' consumers release a stage before waiting (SetGemmEarlyRelease)
	gemmLookahead  int        // k-tiles past the ring the split-K partials ask L2 for, 0 for none (SetGemmLookahead)
	attnFull       bool       // attention computes every tile in full (SetAttentionSkip(false))

	mods  map[string]cu.Module
	funcs map[string]*function

	free  map[int64][]cu.DevicePtr
	stats MemStats

	// stage is a pair of page-locked host buffers that large uploads go
	// through (copyIn): the host fills one while the copy out of the other
	// may still be queued.
	stage     [2]staging
	nextStage int
	noStaging bool // page-locked memory was refused: plain copies

	// async is the state of UploadAsync (upload.go); noAsyncUpload
	// (MOCOGO_CUDA_ASYNC_UPLOAD=0) makes UploadAsync a plain upload on the
	// default stream.
	async         asyncUploads
	noAsyncUpload bool

	// noTMASplitDW (MOCOGO_GEMM_DW_TMA=0) keeps GemmAuto's weight
	// gradients on mma.sync split-K, as before the TMA path became the
	// default.
	noTMASplitDW bool

	// prof times every launch between StartProfile and StopProfile.
	prof profiler

	// tuned holds GemmTune's choice per product shape (tune.go).
	tuned map[tuneKey]*GemmTuning
}

// staging is a page-locked host buffer and the event recorded after the
// last copy out of it.
type staging struct {
	p     unsafe.Pointer
	bytes int64
	done  cu.Event
	used  bool
}

// stagingGrain is the granularity of the staging buffers. Every upload goes
// through them, small ones too: a synchronous copy from pageable memory
// would wait for all queued work (a mid-step drain for the loss's labels).
const stagingGrain = 1 << 20

type function struct {
	f        cu.Function
	smem     int // dynamic shared memory limit set so far (48 KB by default)
	clusters int // clusters that fit at once (clusterSlots), 0 until asked
}

// Open opens device 0 and creates a context for it.
func Open() (*Device, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: cuDeviceGetCount: %w", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("cuda: no CUDA device")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d := &Device{mods: map[string]cu.Module{}, funcs: map[string]*function{}, free: map[int64][]cu.DevicePtr{}}
	if d.dev, err = cu.GetDevice(0); err != nil {
		return nil, fmt.Errorf("cuda: cuDeviceGet(0): %w", err)
	}
	if d.name, err = d.dev.Name(); err != nil {
		return nil, fmt.Errorf("cuda: cuDeviceGetName: %w", err)
	}
	attrs, err := d.dev.Attributes(cu.MultiprocessorCount, cu.ComputeCapabilityMajor, cu.ComputeCapabilityMinor,
		cu.L2CacheSize, maxSharedMemoryPerBlockOptin)
	if err != nil {
		return nil, fmt.Errorf("cuda: cuDeviceGetAttribute: %w", err)
	}
	d.sms, d.major, d.minor, d.l2, d.smem = attrs[0], attrs[1], attrs[2], attrs[3], attrs[4]
	if d.major < 8 {
		return nil, fmt.Errorf("cuda: %s has compute capability %d.%d; mocogo's kernels need 8.0 or later", d.name, d.major, d.minor)
	}
	if d.ctx, err = d.dev.MakeContext(cu.SchedAuto); err != nil {
		return nil, fmt.Errorf("cuda: cuCtxCreate: %w", err)
	}
	// MOCOGO_CUDA_STAGING=0 turns the page-locked staging of uploads off
	// (plain synchronous copies): a switch for ruling it out on a new
	// machine without rebuilding.
	d.noStaging = os.Getenv("MOCOGO_CUDA_STAGING") == "0"
	d.noTMASplitDW = os.Getenv("MOCOGO_GEMM_DW_TMA") == "0"
	d.noAsyncUpload = os.Getenv("MOCOGO_CUDA_ASYNC_UPLOAD") == "0"
	d.gemmStaged = os.Getenv("MOCOGO_GEMM_STAGED") != "0"
	d.gemmStagger = os.Getenv("MOCOGO_GEMM_STAGGER") == "1"
	d.gemmResidualOn = os.Getenv("MOCOGO_GEMM_RESIDUAL") == "1"
	d.gemmGELUGradOn = os.Getenv("MOCOGO_GEMM_GELU_GRAD") == "1"
	d.gemmStreamKOn = os.Getenv("MOCOGO_GEMM_STREAMK") == "1"
	d.gemmPrefetch = os.Getenv("MOCOGO_GEMM_PREFETCH") == "1"
	d.gemmDeepStore = os.Getenv("MOCOGO_GEMM_DEEP_STORE") == "1"
	d.gemmNarrow = os.Getenv("MOCOGO_GEMM_NARROW") == "1"
	d.gemmClusterSK = os.Getenv("MOCOGO_GEMM_CLUSTER_SPLITK") == "1"
	d.gemmWideBoxes = os.Getenv("MOCOGO_GEMM_WIDE_BOXES") == "1"
	d.gemmEarly = os.Getenv("MOCOGO_GEMM_EARLY_RELEASE") == "1"
	if err := d.applyEnv(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Close frees the cached memory and destroys the context. Buffers still
// held become invalid.
func (d *Device) Close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return err
	}
	cu.Synchronize()
	d.emptyCacheLocked()
	d.closeUploads()
	d.closeProfile()
	for i := range d.stage {
		d.stage[i].release()
	}
	return d.ctx.Destroy()
}

// Name is the GPU's marketing name.
func (d *Device) Name() string { return d.name }

// SMs is the number of streaming multiprocessors.
func (d *Device) SMs() int { return d.sms }

// ComputeCapability returns the major and minor compute capability.
func (d *Device) ComputeCapability() (int, int) { return d.major, d.minor }

// L2Bytes is the size of the L2 cache.
func (d *Device) L2Bytes() int { return d.l2 }

func (d *Device) String() string {
	return fmt.Sprintf("%s (sm_%d%d, %d SMs, %d MiB L2)", d.name, d.major, d.minor, d.sms, d.l2>>20)
}

// do runs fn with the device locked, on a locked OS thread with the
// context current.
func (d *Device) do(fn func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return fmt.Errorf("cuda: cuCtxSetCurrent: %w", err)
	}
	return fn()
}

// Synchronize waits for all work issued so far and reports any error a
// kernel raised while running.
func (d *Device) Synchronize() error {
	return d.do(func() error {
		if err := cu.Synchronize(); err != nil {
			return fmt.Errorf("cuda: cuCtxSynchronize: %w", err)
		}
		return nil
	})
}

// ---- memory ----

// Buffer is a block of device memory from the caching allocator.
type Buffer struct {
	d     *Device
	ptr   cu.DevicePtr
	bytes int64
	class int64 // 0 for views, which are not freed
}

// Alloc returns a buffer of at least bytes bytes (contents undefined),
// reusing a freed block of the same size class when there is one.
func (d *Device) Alloc(bytes int64) (*Buffer, error) {
	if bytes < 0 {
		panic(fmt.Sprintf("cuda.Alloc: negative size %d", bytes))
	}
	class := sizeClass(bytes)
	var b *Buffer
	err := d.do(func() error {
		if l := d.free[class]; len(l) > 0 {
			p := l[len(l)-1]
			d.free[class] = l[:len(l)-1]
			d.stats.Cached -= class
			d.stats.Hits++
			b = &Buffer{d: d, ptr: p, bytes: bytes, class: class}
		} else {
			p, err := cu.MemAlloc(class)
			if err != nil {
				// Give the cache back to the driver and try once more.
				d.emptyCacheLocked()
				if p, err = cu.MemAlloc(class); err != nil {
					return fmt.Errorf("cuda: cuMemAlloc(%d): %w (in use %d, peak %d)", class, err, d.stats.InUse, d.stats.Peak)
				}
			}
			d.stats.Allocs++
			b = &Buffer{d: d, ptr: p, bytes: bytes, class: class}
		}
		d.stats.InUse += class
		if d.stats.InUse > d.stats.Peak {
			d.stats.Peak = d.stats.InUse
		}
		return nil
	})
	return b, err
}

// AllocF32 allocates room for n float32 values.
func (d *Device) AllocF32(n int) (*Buffer, error) { return d.Alloc(4 * int64(n)) }

// AllocF16 allocates room for n fp16 values.
func (d *Device) AllocF16(n int) (*Buffer, error) { return d.Alloc(2 * int64(n)) }

func (d *Device) emptyCacheLocked() {
	for c, l := range d.free {
		for _, p := range l {
			cu.MemFree(p)
		}
		d.stats.Cached -= c * int64(len(l))
		delete(d.free, c)
	}
}

// EmptyCache returns every cached free block to the driver.
func (d *Device) EmptyCache() {
	d.do(func() error { d.emptyCacheLocked(); return nil })
}

// MemStats reports the allocator's counters.
func (d *Device) MemStats() MemStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// ResetPeak sets MemStats' Peak to the bytes in use now, so that the peak
// of one piece of work can be measured; it returns the old peak.
func (d *Device) ResetPeak() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.stats.Peak
	d.stats.Peak = d.stats.InUse
	return old
}

// Free returns the buffer to the cache. Views and nil buffers are ignored;
// freeing twice panics.
func (b *Buffer) Free() {
	if b == nil || b.class == 0 {
		return
	}
	if b.ptr == 0 {
		panic("cuda: Buffer freed twice")
	}
	d := b.d
	d.mu.Lock()
	d.free[b.class] = append(d.free[b.class], b.ptr)
	d.stats.InUse -= b.class
	d.stats.Cached += b.class
	d.mu.Unlock()
	b.ptr = 0
}

// Ptr is the device address.
func (b *Buffer) Ptr() uintptr { return uintptr(b.ptr) }

// Bytes is the size asked for.
func (b *Buffer) Bytes() int64 { return b.bytes }

// View returns the bytes [off, off+n) of b as a buffer that shares its
// memory and is never freed by itself.
func (b *Buffer) View(off, n int64) *Buffer {
	if off < 0 || n < 0 || off+n > b.bytes {
		panic(fmt.Sprintf("cuda: view [%d,%d) of a %d-byte buffer", off, off+n, b.bytes))
	}
	return &Buffer{d: b.d, ptr: b.ptr + cu.DevicePtr(off), bytes: n}
}

func (b *Buffer) copyIn(p unsafe.Pointer, n int64, what string) error {
	if n > b.bytes {
		panic(fmt.Sprintf("cuda: %s of %d bytes into a %d-byte buffer", what, n, b.bytes))
	}
	if n == 0 {
		return nil
	}
	return b.d.do(func() error {
		if !b.d.noStaging {
			staged, err := b.d.stageIn(b.ptr, p, n)
			if err != nil {
				return fmt.Errorf("cuda: %s (%d bytes): %w", what, n, err)
			}
			if staged {
				return nil
			}
		}
		if err := cu.MemcpyHtoD(b.ptr, p, n); err != nil {
			return fmt.Errorf("cuda: %s (%d bytes): %w", what, n, err)
		}
		return nil
	})
}

// stageIn copies n bytes from host memory p through a page-locked staging
// buffer and queues the copy to dst on the stream, returning before it
// runs: the caller may reuse p at once, and the GPU reads the data in
// stream order. A synchronous copy from pageable memory would instead wait
// for all queued work first and copy at a fraction of the bus's speed. It
// reports false, with no error, when page-locked memory is not available
// (then it is not tried again). Called inside d.do.
func (d *Device) stageIn(dst cu.DevicePtr, p unsafe.Pointer, n int64) (bool, error) {
	st := &d.stage[d.nextStage]
	if err := st.reserve(n); err != nil {
		if errors.Is(err, errNoPinned) {
			d.noStaging = true
			return false, nil
		}
		return false, err
	}
	parallelCopy(unsafe.Slice((*byte)(st.p), n), unsafe.Slice((*byte)(p), n))
	if err := memcpyHtoDAsync(dst, st.p, n); err != nil {
		return false, err
	}
	if err := st.done.Record(cu.Stream{}); err != nil {
		return false, fmt.Errorf("cuEventRecord: %w", err)
	}
	d.nextStage ^= 1
	return true, nil
}

// release frees st's page-locked buffer and its event (at Close, the
// device idle).
func (st *staging) release() {
	if st.p != nil {
		freeHost(st.p)
		cu.DestroyEvent(&st.done)
		*st = staging{}
	}
}

// errNoPinned is reserve's error when the driver refuses page-locked memory.
var errNoPinned = errors.New("page-locked host memory refused")

// reserve makes st ready to take n bytes from the host: the transfer out of
// it last time must be done before the host overwrites it (long since, as a
// rule, and waited for here), and a buffer smaller than n is replaced by a
// page-locked one of at least n bytes. used says that st's event exists
// (an event never recorded counts as done). Called inside d.do.
func (st *staging) reserve(n int64) error {
	if st.used {
		if err := st.done.Synchronize(); err != nil {
			return fmt.Errorf("cuEventSynchronize: %w", err)
		}
	}
	if st.bytes >= n {
		return nil
	}
	if st.p != nil {
		if err := freeHost(st.p); err != nil {
			return err
		}
		st.p, st.bytes = nil, 0
	}
	size := (n + stagingGrain - 1) &^ (stagingGrain - 1)
	hp, err := allocHost(size)
	if err != nil {
		return fmt.Errorf("%w: %v", errNoPinned, err)
	}
	st.p, st.bytes = hp, size
	if !st.used {
		if st.done, err = cu.MakeEvent(cu.DisableTiming); err != nil {
			return fmt.Errorf("cuEventCreate: %w", err)
		}
		st.used = true
	}
	return nil
}

// parallelCopy is copy(dst, src) split over the host's cores: a batch of
// 224 px images is 150 MB, which one core copies in tens of milliseconds.
func parallelCopy(dst, src []byte) {
	const chunk = 4 << 20
	parts := min(runtime.GOMAXPROCS(0), (len(src)+chunk-1)/chunk)
	if parts <= 1 {
		copy(dst, src)
		return
	}
	per := (len(src) + parts - 1) / parts
	var wg sync.WaitGroup
	for i := 0; i < len(src); i += per {
		j := min(i+per, len(src))
		wg.Add(1)
		go func() {
			defer wg.Done()
			copy(dst[i:j], src[i:j])
		}()
	}
	wg.Wait()
}

func (b *Buffer) copyOut(p unsafe.Pointer, n int64, what string) error {
	if n > b.bytes {
		panic(fmt.Sprintf("cuda: %s of %d bytes from a %d-byte buffer", what, n, b.bytes))
	}
	if n == 0 {
		return nil
	}
	return b.d.do(func() error {
		if err := cu.MemcpyDtoH(p, b.ptr, n); err != nil {
			return fmt.Errorf("cuda: %s (%d bytes): %w", what, n, err)
		}
		return nil
	})
}

// CopyFromF32 copies src to the start of the buffer.
func (b *Buffer) CopyFromF32(src []float32) error {
	if len(src) == 0 {
		return nil
	}
	err := b.copyIn(unsafe.Pointer(&src[0]), 4*int64(len(src)), "CopyFromF32")
	runtime.KeepAlive(src)
	return err
}

// CopyToF32 copies the start of the buffer into dst.
func (b *Buffer) CopyToF32(dst []float32) error {
	if len(dst) == 0 {
		return nil
	}
	err := b.copyOut(unsafe.Pointer(&dst[0]), 4*int64(len(dst)), "CopyToF32")
	runtime.KeepAlive(dst)
	return err
}

// CopyFromU16 copies 16-bit values (fp16 bits) to the start of the buffer.
func (b *Buffer) CopyFromU16(src []uint16) error {
	if len(src) == 0 {
		return nil
	}
	err := b.copyIn(unsafe.Pointer(&src[0]), 2*int64(len(src)), "CopyFromU16")
	runtime.KeepAlive(src)
	return err
}

// CopyToU16 copies the start of the buffer into dst as 16-bit values.
func (b *Buffer) CopyToU16(dst []uint16) error {
	if len(dst) == 0 {
		return nil
	}
	err := b.copyOut(unsafe.Pointer(&dst[0]), 2*int64(len(dst)), "CopyToU16")
	runtime.KeepAlive(dst)
	return err
}

// CopyFrom copies n bytes from src to b on the device.
func (b *Buffer) CopyFrom(src *Buffer, n int64) error {
	if n > b.bytes || n > src.bytes {
		panic(fmt.Sprintf("cuda: device copy of %d bytes between buffers of %d and %d", n, src.bytes, b.bytes))
	}
	return b.d.do(func() error {
		if err := cu.MemcpyDtoD(b.ptr, src.ptr, n); err != nil {
			return fmt.Errorf("cuda: cuMemcpyDtoD(%d bytes): %w", n, err)
		}
		return nil
	})
}

// Fill32 sets every 4-byte word of the buffer to bits (NaN poisoning:
// 0x7fc00000).
func (b *Buffer) Fill32(bits uint32) error {
	return b.d.do(func() error { return memsetD32(b.ptr, bits, b.bytes/4) })
}

// Fill16 sets every 2-byte word of the buffer to bits (fp16 NaN: 0x7e00).
func (b *Buffer) Fill16(bits uint16) error {
	return b.d.do(func() error { return memsetD16(b.ptr, bits, b.bytes/2) })
}

// PoisonF32 fills the buffer with float32 NaN.
func (b *Buffer) PoisonF32() error { return b.Fill32(math.Float32bits(float32(math.NaN()))) }

// ---- kernels ----

// function returns the named kernel of an embedded PTX module, loading the
// module on first use. Called with the device locked.
func (d *Device) function(module, kernel string) (*function, error) {
	key := module + "." + kernel
	if f, ok := d.funcs[key]; ok {
		return f, nil
	}
	m, ok := d.mods[module]
	if !ok {
		var err error
		if m, err = loadModule(module); err != nil {
			return nil, err
		}
		d.mods[module] = m
	}
	f, err := m.Function(kernel)
	if err != nil {
		return nil, fmt.Errorf("cuda: kernel %s not in module %s: %w", kernel, module, err)
	}
	fn := &function{f: f, smem: 48 << 10}
	d.funcs[key] = fn
	return fn, nil
}

// functionSmem is d.function with at least smem bytes of dynamic shared
// memory allowed it (the attribute set once for each larger size asked).
// Runs on the context's thread (inside d.do).
func (d *Device) functionSmem(module, kernel string, smem int) (*function, error) {
	fn, err := d.function(module, kernel)
	if err != nil {
		return nil, err
	}
	if smem > fn.smem {
		if smem > d.smem {
			return nil, fmt.Errorf("%d bytes of shared memory asked, %s allows %d per block", smem, d.name, d.smem)
		}
		if err := setMaxDynamicSmem(fn.f, smem); err != nil {
			return nil, err
		}
		fn.smem = smem
	}
	return fn, nil
}

// TrainingModules names the PTX modules that a training step under fp16
// (bf16: bf16) autocast loads on this device with the default settings,
// for Preload (trainingModules).
func (d *Device) TrainingModules(bf16 bool) []string {
	return trainingModules(d.sm90(), bf16)
}

// sm90 reports whether the device has compute capability 9.0 (the H100 and
// H200), which the wgmma and TMA kernels need.
func (d *Device) sm90() bool { return d.major == 9 && d.minor == 0 }

// Preload loads the named PTX modules now. The driver compiles a module's
// PTX for the GPU when it loads it (up to 40 s for one of the GEMM
// modules on an H100 host whose driver cache was cold), and modules
// compile independently: Preload loads up to preloadParallel of them at
// once, each from its own OS thread with the context current, so that,
// where the driver compiles them side by side (not yet measured: run.sh's
// jitstep does), a cold start waits about as long as for the slowest
// module rather than for all of them one after another. Benchmarks call it
// to keep the compiling out of their timings, pretrain before its first
// step. A module that fails to load is named in the error; the others are
// loaded all the same.
func (d *Device) Preload(modules ...string) error {
	return d.do(func() error {
		var todo []string
		for _, module := range modules {
			if _, ok := d.mods[module]; !ok && !slices.Contains(todo, module) {
				todo = append(todo, module)
			}
		}
		loaded := make([]cu.Module, len(todo))
		errs := make([]error, len(todo))
		next := make(chan int)
		var wg sync.WaitGroup
		for range min(len(todo), preloadParallel) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				setErr := cu.SetCurrentContext(d.ctx)
				for i := range next {
					if setErr != nil {
						errs[i] = fmt.Errorf("cuda: loading PTX module %s: cuCtxSetCurrent: %w", todo[i], setErr)
						continue
					}
					loaded[i], errs[i] = loadModule(todo[i])
				}
			}()
		}
		for i := range todo {
			next <- i
		}
		close(next)
		wg.Wait()
		for i, module := range todo {
			if errs[i] == nil {
				d.mods[module] = loaded[i]
			}
		}
		return errors.Join(errs...)
	})
}

// preloadParallel bounds how many modules Preload has the driver compile
// at once: each compile takes a core and a few hundred megabytes of host
// memory, and a step on Hopper loads eight modules.
var preloadParallel = min(runtime.NumCPU(), 8)

// loadModule loads the embedded PTX module name into the current context.
func loadModule(name string) (cu.Module, error) {
	src, err := kernels.PTX(name)
	if err != nil {
		return cu.Module{}, err
	}
	m, err := cu.LoadData(src)
	if err != nil {
		return cu.Module{}, fmt.Errorf("cuda: loading PTX module %s: %w", name, err)
	}
	return m, nil
}

// Launch runs kernel from the embedded PTX module on the default stream.
// Arguments are packed one 8-byte slot each (cu's convention): *Buffer,
// uintptr and cu.DevicePtr as device pointers (a nil *Buffer is a null
// pointer), int/int32/int64/uint32 as integers, float32 as its bits in the
// low word, bool as 0 or 1. A kernel declares its scalars 4 or 8 bytes wide
// as it likes: the driver reads only the declared width from each slot.
func (d *Device) Launch(module, kernel string, grid, block Dim3, smem int, args ...any) error {
	slots := make([]uint64, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case *Buffer:
			if v != nil {
				if v.class != 0 && v.ptr == 0 {
					panic(fmt.Sprintf("cuda: %s argument %d: buffer used after Free", kernel, i))
				}
				slots[i] = uint64(v.ptr)
			}
		case nil:
		case uintptr:
			slots[i] = uint64(v)
		case cu.DevicePtr:
			slots[i] = uint64(v)
		case int:
			slots[i] = uint64(int64(v))
		case int32:
			slots[i] = uint64(uint32(v))
		case int64:
			slots[i] = uint64(v)
		case uint32:
			slots[i] = uint64(v)
		case float32:
			slots[i] = uint64(math.Float32bits(v))
		case float64:
			slots[i] = math.Float64bits(v)
		case bool:
			if v {
				slots[i] = 1
			}
		default:
			panic(fmt.Sprintf("cuda: %s argument %d has unsupported type %T", kernel, i, a))
		}
	}
	params := make([]unsafe.Pointer, len(slots))
	for i := range slots {
		params[i] = unsafe.Pointer(&slots[i])
	}
	err := d.do(func() error {
		fn, err := d.functionSmem(module, kernel, smem)
		if err != nil {
			return err
		}
		start, err := d.profileBegin()
		if err != nil {
			return err
		}
		if err := fn.f.Launch(grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, smem, cu.Stream{}, params); err != nil {
			d.profileAbort(start)
			return err
		}
		return d.profileEnd(start, module, kernel, grid)
	})
	runtime.KeepAlive(slots)
	if err != nil {
		return fmt.Errorf("cuda: launch %s.%s grid (%d,%d,%d) block (%d,%d,%d) smem %d: %w",
			module, kernel, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, smem, err)
	}
	return nil
}

// ---- timing ----

// Event is a CUDA event for timing work on the default stream.
type Event struct {
	d *Device
	e cu.Event
}

// NewEvent creates a timing event.
func (d *Device) NewEvent() (*Event, error) {
	var e cu.Event
	err := d.do(func() error {
		var err error
		e, err = cu.MakeEvent(cu.DefaultEvent)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: cuEventCreate: %w", err)
	}
	return &Event{d, e}, nil
}

// Record marks the point in the stream reached by the work issued so far.
func (e *Event) Record() error {
	return e.d.do(func() error { return e.e.Record(cu.Stream{}) })
}

// Since waits for e and returns the milliseconds between start and e.
func (e *Event) Since(start *Event) (float64, error) {
	var ms float64
	err := e.d.do(func() error {
		if err := e.e.Synchronize(); err != nil {
			return fmt.Errorf("cuda: cuEventSynchronize: %w", err)
		}
		var err error
		ms, err = start.e.Elapsed(e.e)
		return err
	})
	return ms, err
}

// Destroy releases the event.
func (e *Event) Destroy() {
	e.d.do(func() error { return cu.DestroyEvent(&e.e) })
}

// MedianMs runs fn runs times, each between its own pair of events on the
// default stream, and returns the median of their milliseconds.
func (d *Device) MedianMs(runs int, fn func() error) (float64, error) {
	start, err := d.NewEvent()
	if err != nil {
		return 0, err
	}
	defer start.Destroy()
	stop, err := d.NewEvent()
	if err != nil {
		return 0, err
	}
	defer stop.Destroy()
	ms := make([]float64, runs)
	for i := range ms {
		if err := start.Record(); err != nil {
			return 0, err
		}
		if err := fn(); err != nil {
			return 0, err
		}
		if err := stop.Record(); err != nil {
			return 0, err
		}
		if ms[i], err = stop.Since(start); err != nil {
			return 0, err
		}
	}
	slices.Sort(ms)
	return ms[len(ms)/2], nil
}

// maxSharedMemoryPerBlockOptin is CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
// which cu does not name.
const maxSharedMemoryPerBlockOptin cu.DeviceAttribute = 97
