// Package cli holds what the commands share in reading their command
// lines.
package cli

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/mocogo/mocogo/moco/data"
)

// CheckArgs refuses what fs.Parse(args) lets pass but a command does not
// mean: an argument left after the flags (the commands take flags only),
// and one of the flags named by paths given more than once (the flag
// package keeps the last; other flags may be given again to override).
// Both are what a shell's brace expansion makes of an unquoted pattern,
// one word per name: --data shards/train-{000..127}.tar gives arguments
// left over, --data=shards/train-{000..127}.tar gives --data again and
// again. The error then says to quote it.
func CheckArgs(fs *flag.FlagSet, args []string, paths ...string) error {
	const quote = "a shell expands an unquoted pattern into one word per file; quote it, as in --data 'shards/train-{000..127}.tar'"
	seen := map[string]int{}
	for _, a := range args {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || fs.Lookup(name) == nil || !slices.Contains(paths, name) {
			continue
		}
		if seen[name]++; seen[name] == 2 {
			return fmt.Errorf("--%s is given more than once: %s", name, quote)
		}
	}
	if fs.NArg() == 0 {
		return nil
	}
	a := fs.Arg(0)
	if data.IsArchive(a) {
		return fmt.Errorf("unexpected argument %q: %s", a, quote)
	}
	return fmt.Errorf("unexpected argument %q (flags start with --)", a)
}

// AtOwnSize reports whether images like sample are taken at their own
// size when the command line gives none: those of at most 64 px a side
// (CIFAR, MNIST).
func AtOwnSize(sample data.Image) bool { return sample.W <= 64 && sample.H <= 64 }

// ImageDefaults fills in an image and patch size the command line left at
// 0, as pretrain and lincls both do: images AtOwnSize at their own size,
// larger ones at 224 px; the patch is 16 px at 224 px and up, else 4 px.
func ImageDefaults(img, patch int, sample data.Image) (int, int) {
	if img == 0 {
		img = 224
		if AtOwnSize(sample) {
			img = max(sample.W, sample.H)
		}
	}
	if patch == 0 {
		patch = 16
		if img < 224 {
			patch = 4
		}
	}
	return img, patch
}

// FirstReadable returns the first item of ds that can be read, for the
// commands' image-size defaults: item 0, or with skipBad (their
// --skip-bad) the first of the items after it that reads.
func FirstReadable(ds data.Dataset, skipBad bool) (int, data.Sample, error) {
	var firstErr error
	for i := 0; i < ds.Len(); i++ {
		s, err := ds.Item(i)
		if err == nil {
			return i, s, nil
		}
		if !skipBad {
			return 0, data.Sample{}, err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		return 0, data.Sample{}, fmt.Errorf("no images")
	}
	return 0, data.Sample{}, fmt.Errorf("no image can be read (--skip-bad): %w", firstErr)
}

// StartCPUProfile starts a CPU profile of the process into the file at
// path (the commands' --cpuprofile) and returns the function that stops it
// and closes the file, reporting a failed write.
func StartCPUProfile(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the CPU profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("writing the CPU profile %s: %w", path, err)
		}
		return nil
	}, nil
}

// IntFlag is an integer flag's name and value, for the range checks
// below, which name the flag and its value in their errors.
type IntFlag struct {
	Name  string
	Value int
}

// CheckSizes refuses a size below 0, or given as 0: 0 stands for "from
// the checkpoint" or "the default", so only when left out. set names the
// flags given on the command line.
func CheckSizes(set map[string]bool, flags ...IntFlag) error {
	for _, f := range flags {
		if f.Value < 0 || set[f.Name] && f.Value == 0 {
			return fmt.Errorf("--%s %d: must be positive", f.Name, f.Value)
		}
	}
	return nil
}

// CheckPositive refuses a value of 0 or less.
func CheckPositive(flags ...IntFlag) error {
	for _, f := range flags {
		if f.Value <= 0 {
			return fmt.Errorf("--%s %d: must be positive", f.Name, f.Value)
		}
	}
	return nil
}

// CheckNonNegative refuses a value below 0.
func CheckNonNegative(flags ...IntFlag) error {
	for _, f := range flags {
		if f.Value < 0 {
			return fmt.Errorf("--%s %d: must be 0 or positive", f.Name, f.Value)
		}
	}
	return nil
}
