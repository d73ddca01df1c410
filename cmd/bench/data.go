package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mocogo/mocogo/internal/cli"
	"github.com/mocogo/mocogo/internal/testimg"
	"github.com/mocogo/mocogo/moco/data"
)

const torchLoaderScript = "scripts/torch/bench_loader.py"

// runData times the input pipeline pretrain runs: each image read,
// decoded and made into its two MoCo v3 views, in batches from
// data.Loader's workers. With -anchor it also times PyTorch's DataLoader
// running main_moco.py's transforms (torchvision on PIL images) over
// the same images with the same number of workers
// (scripts/torch/bench_loader.py). Without -data it writes an
// ImageFolder of photo-like JPEGs of ImageNet's typical size first.
func runData(args []string) error {
	fs := flag.NewFlagSet("bench data", flag.ContinueOnError)
	dataPath := fs.String("data", "", "dataset to read, in any format pretrain reads (-anchor needs an ImageFolder); default: a generated ImageFolder of -images JPEGs")
	images := fs.Int("images", 256, "JPEGs to generate when -data is not given")
	genSize := fs.String("gen-size", "500x375", "width×height of the generated JPEGs (quality 90, 4:2:0)")
	img := fs.Int("img", 224, "view size")
	batch := fs.Int("batch", 64, "images per batch")
	batches := fs.Int("batches", 8, "timed batches (the loader goes on into the next epoch when the data run out; -anchor's DataLoader rounds this and -warmup up to whole rounds of one batch a worker, its warmup at least one round)")
	warmup := fs.Int("warmup", 1, "untimed batches first")
	workers := fs.String("workers", "", "comma-separated worker counts (default: 1 and all cores)")
	anchor := fs.Bool("anchor", false, "also time PyTorch's DataLoader with main_moco.py's transforms ("+torchLoaderScript+") at each worker count")
	python := fs.String("python", "/usr/bin/python3", "Python with torch and torchvision, for -anchor")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cli.CheckArgs(fs, args); err != nil {
		return fmt.Errorf("bench data: %w", err)
	}
	if *batch < 1 || *batches < 1 || *warmup < 0 || *img < 1 {
		return fmt.Errorf("bench data: -batch %d, -batches %d and -img %d must be at least 1 and -warmup %d not negative", *batch, *batches, *img, *warmup)
	}
	counts, err := countList("workers", *workers)
	if err != nil {
		return fmt.Errorf("bench data: %w", err)
	}

	path := *dataPath
	if path == "" {
		var w, h int
		if _, err := fmt.Sscanf(*genSize, "%dx%d", &w, &h); err != nil || w < 1 || h < 1 || w > 1<<14 || h > 1<<14 {
			return fmt.Errorf("bench data: -gen-size %q: want WIDTHxHEIGHT, each 1 to 16384", *genSize)
		}
		if *images < *batch {
			return fmt.Errorf("bench data: -images %d make no batch of %d", *images, *batch)
		}
		dir, err := os.MkdirTemp("", "mocogo-bench-data-")
		if err != nil {
			return fmt.Errorf("bench data: %w", err)
		}
		defer os.RemoveAll(dir)
		total, err := writePhotoFolder(dir, *images, w, h)
		if err != nil {
			return fmt.Errorf("bench data: %w", err)
		}
		fmt.Printf("data: %d generated %dx%d JPEGs (quality 90, %.0f KB on average) in %s\n", *images, w, h, float64(total)/float64(*images)/1024, dir)
		path = dir
	}
	ds, err := data.Open(path, "train")
	if err != nil {
		return fmt.Errorf("bench data: %w", err)
	}
	if *dataPath != "" {
		fmt.Printf("data: %s, %d images\n", path, ds.Len())
	}
	fmt.Printf("input pipeline: read, decode, two MoCo v3 views of %d px; batch %d, %d timed batches after %d; %s\n",
		*img, *batch, *batches, *warmup, cpuName())
	fmt.Printf("%-8s %-34s %12s\n", "workers", "pipeline", "images/s")
	for _, n := range counts {
		ips, err := timeOurLoader(ds, *img, *batch, *batches, *warmup, n)
		if err != nil {
			return fmt.Errorf("bench data: %w", err)
		}
		fmt.Printf("%-8d %-34s %12.1f\n", n, "mocogo", ips)
		dps, err := timeOurDecode(ds, max((*batches)*(*batch), 256), n)
		if err != nil {
			return fmt.Errorf("bench data: %w", err)
		}
		fmt.Printf("%-8d %-34s %12.1f\n", n, "mocogo: read and decode only", dps)
		if *anchor {
			res, err := timeTorchLoader(*python, path, *img, *batch, *batches, *warmup, n)
			if err != nil {
				return err
			}
			name := fmt.Sprintf("torch %s torchvision %s", res.Torch, res.Torchvision)
			fmt.Printf("%-8d %-34s %12.1f   ratio mocogo/torch %.2f\n", n, name, res.ImagesPerS, ips/res.ImagesPerS)
		}
	}
	return nil
}

// timeOurLoader runs a data.Loader with the given workers (GOMAXPROCS
// the same, as pretrain's data side would have them) and returns the
// images per second of the timed batches.
func timeOurLoader(ds data.Dataset, img, batch, batches, warmup, workers int) (float64, error) {
	prev := runtime.GOMAXPROCS(workers)
	defer runtime.GOMAXPROCS(prev)
	l, err := data.NewLoader(ds, data.NewMoCoV3(img), data.LoaderConfig{BatchSize: batch, Workers: workers, Shuffle: true, DropLast: true})
	if err != nil {
		return 0, err
	}
	defer l.Close() // the first error, if any, was Next's
	for range warmup {
		if _, err := l.Next(); err != nil {
			return 0, err
		}
	}
	t0 := time.Now()
	for range batches {
		if _, err := l.Next(); err != nil {
			return 0, err
		}
	}
	return float64(batches*batch) / time.Since(t0).Seconds(), nil
}

// timeOurDecode reads and decodes count items (from the first, going
// round the dataset) on the given number of goroutines, without the
// augmentation, and returns the items per second. A first pass of as
// many items is not timed.
func timeOurDecode(ds data.Dataset, count, workers int) (float64, error) {
	if _, err := decodeItems(ds, count, workers); err != nil {
		return 0, err
	}
	return decodeItems(ds, count, workers)
}

func decodeItems(ds data.Dataset, count, workers int) (float64, error) {
	prev := runtime.GOMAXPROCS(workers)
	defer runtime.GOMAXPROCS(prev)
	var next atomic.Int64
	errs := make(chan error, workers)
	t0 := time.Now()
	for range workers {
		go func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= count {
					errs <- nil
					return
				}
				if _, err := ds.Item(i % ds.Len()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
			next.Store(int64(count)) // the others stop at their next item
		}
	}
	if first != nil {
		return 0, first
	}
	return float64(count) / time.Since(t0).Seconds(), nil
}

type torchLoaderResult struct {
	Torch       string  `json:"torch"`
	Torchvision string  `json:"torchvision"`
	ImagesPerS  float64 `json:"images_per_s"`
}

func timeTorchLoader(python, path string, img, batch, batches, warmup, workers int) (torchLoaderResult, error) {
	if _, err := os.Stat(torchLoaderScript); err != nil {
		return torchLoaderResult{}, fmt.Errorf("bench data -anchor: run from the repository root (%w)", err)
	}
	cmd := exec.Command(python, torchLoaderScript, "--data", path, "--img", strconv.Itoa(img), "--batch", strconv.Itoa(batch),
		"--batches", strconv.Itoa(batches), "--warmup", strconv.Itoa(warmup), "--workers", strconv.Itoa(workers))
	// One thread a worker, as DataLoader's workers set it.
	cmd.Env = plainAnchorEnv(1)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return torchLoaderResult{}, fmt.Errorf("bench data: %s: %w (it needs python3-torch and python3-torchvision, and -data an ImageFolder)", torchLoaderScript, err)
	}
	var r torchLoaderResult
	if err := json.Unmarshal(out, &r); err != nil {
		return torchLoaderResult{}, fmt.Errorf("bench data: reading %s output %q: %w", torchLoaderScript, out, err)
	}
	return r, nil
}

// writePhotoFolder writes n photo-like w×h JPEGs (quality 90) into two
// class folders of dir and returns their total size in bytes.
func writePhotoFolder(dir string, n, w, h int) (int64, error) {
	var total int64
	for i := range n {
		class := filepath.Join(dir, fmt.Sprintf("class%d", i%2))
		if err := os.MkdirAll(class, 0o755); err != nil {
			return 0, err
		}
		name := filepath.Join(class, fmt.Sprintf("img%05d.jpg", i))
		f, err := os.Create(name)
		if err != nil {
			return 0, err
		}
		err = jpeg.Encode(f, testimg.Photo(w, h, uint64(i)+1), &jpeg.Options{Quality: 90})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, fmt.Errorf("writing %s: %w", name, err)
		}
		st, err := os.Stat(name)
		if err != nil {
			return 0, err
		}
		total += st.Size()
	}
	return total, nil
}
