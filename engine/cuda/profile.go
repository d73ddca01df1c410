//go:build cuda

package cuda

import (
	"cmp"
	"fmt"
	"slices"

	"gorgonia.org/cu"
)

// KernelTime is the device time of one kernel over a profiled stretch of
// work: how many times it was launched and the milliseconds those launches
// took on the GPU, summed.
type KernelTime struct {
	Kernel   string // module.kernel
	Grid     Dim3   // the launch grid; Profile.ByKernel merges grids
	Launches int
	Ms       float64
}

// Profile is what StopProfile reports: the kernels' own time and the span
// of the GPU's timeline they occupied.
type Profile struct {
	// Kernels holds one entry per kernel and grid, longest first.
	Kernels []KernelTime
	// SpanMs runs from the start of the first profiled launch to the end
	// of the last; BusyMs is the kernels' summed time. SpanMs − BusyMs is
	// the time the default stream ran no kernel of ours between them:
	// launch gaps, host waits, copies and memsets.
	SpanMs, BusyMs float64
}

// ByKernel merges p's entries of the same kernel over their grids, longest
// first.
func (p Profile) ByKernel() []KernelTime {
	at := map[string]int{}
	var out []KernelTime
	for _, k := range p.Kernels {
		i, ok := at[k.Kernel]
		if !ok {
			at[k.Kernel] = len(out)
			out = append(out, KernelTime{Kernel: k.Kernel})
			i = len(out) - 1
		}
		out[i].Launches += k.Launches
		out[i].Ms += k.Ms
	}
	slices.SortStableFunc(out, func(a, b KernelTime) int { return cmp.Compare(b.Ms, a.Ms) })
	return out
}

// profiler times every kernel launch on the default stream between
// StartProfile and StopProfile with a pair of events around it. Each pair
// costs the host two event records, about as much as the launch itself:
// a profiled run is for where the time goes, not for the rate.
type profiler struct {
	on     bool
	spans  []launchSpan
	events []cu.Event // recycled, created with timing
}

type launchSpan struct {
	kernel     string
	grid       Dim3
	start, end cu.Event
}

// StartProfile starts timing every kernel launched on the default stream
// (ours: copies and memsets are not kernels and show only in the span).
func (d *Device) StartProfile() error {
	return d.do(func() error {
		if d.prof.on {
			return fmt.Errorf("cuda: StartProfile: a profile is running")
		}
		d.prof.on = true
		d.prof.spans = d.prof.spans[:0]
		return nil
	})
}

// StopProfile waits for the profiled work, stops timing and returns where
// the time went.
func (d *Device) StopProfile() (Profile, error) {
	var p Profile
	err := d.do(func() error {
		if !d.prof.on {
			return fmt.Errorf("cuda: StopProfile without StartProfile")
		}
		d.prof.on = false
		spans := d.prof.spans
		defer func() {
			for _, s := range spans {
				d.prof.events = append(d.prof.events, s.start, s.end)
			}
			d.prof.spans = spans[:0]
		}()
		if err := cu.Synchronize(); err != nil {
			return fmt.Errorf("cuda: cuCtxSynchronize: %w", err)
		}
		if len(spans) == 0 {
			return nil
		}
		type key struct {
			kernel string
			grid   Dim3
		}
		at := map[key]int{}
		for _, s := range spans {
			ms, err := s.start.Elapsed(s.end)
			if err != nil {
				return fmt.Errorf("cuda: cuEventElapsedTime (%s): %w", s.kernel, err)
			}
			k := key{s.kernel, s.grid}
			i, ok := at[k]
			if !ok {
				i = len(p.Kernels)
				at[k] = i
				p.Kernels = append(p.Kernels, KernelTime{Kernel: s.kernel, Grid: s.grid})
			}
			p.Kernels[i].Launches++
			p.Kernels[i].Ms += float64(ms)
			p.BusyMs += float64(ms)
		}
		span, err := spans[0].start.Elapsed(spans[len(spans)-1].end)
		if err != nil {
			return fmt.Errorf("cuda: cuEventElapsedTime (span): %w", err)
		}
		p.SpanMs = float64(span)
		return nil
	})
	slices.SortStableFunc(p.Kernels, func(a, b KernelTime) int { return cmp.Compare(b.Ms, a.Ms) })
	return p, err
}

// profileBegin records the start of a launch when a profile is running
// and returns its event (zero when none). Called inside d.do.
func (d *Device) profileBegin() (cu.Event, error) {
	if !d.prof.on {
		return cu.Event{}, nil
	}
	var ev cu.Event
	if n := len(d.prof.events); n > 0 {
		ev = d.prof.events[n-1]
		d.prof.events = d.prof.events[:n-1]
	} else {
		var err error
		if ev, err = cu.MakeEvent(cu.DefaultEvent); err != nil {
			return cu.Event{}, fmt.Errorf("cuEventCreate: %w", err)
		}
	}
	if err := ev.Record(cu.Stream{}); err != nil {
		d.prof.events = append(d.prof.events, ev)
		return cu.Event{}, fmt.Errorf("cuEventRecord: %w", err)
	}
	return ev, nil
}

// profileAbort gives back the event of a launch profileBegin started that
// did not happen. Called inside d.do.
func (d *Device) profileAbort(start cu.Event) {
	if start != (cu.Event{}) {
		d.prof.events = append(d.prof.events, start)
	}
}

// profileEnd records the end of the launch profileBegin started. Called
// inside d.do, after the launch.
func (d *Device) profileEnd(start cu.Event, module, kernel string, grid Dim3) error {
	if !d.prof.on || start == (cu.Event{}) {
		return nil
	}
	end, err := d.profileBegin()
	if err != nil {
		d.profileAbort(start)
		return err
	}
	d.prof.spans = append(d.prof.spans, launchSpan{module + "." + kernel, grid, start, end})
	return nil
}

// closeProfile frees the profiler's events (at Close).
func (d *Device) closeProfile() {
	for _, s := range d.prof.spans {
		d.prof.events = append(d.prof.events, s.start, s.end)
	}
	for i := range d.prof.events {
		cu.DestroyEvent(&d.prof.events[i])
	}
	d.prof = profiler{}
}
