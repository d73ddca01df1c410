package data

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mocogo/mocogo/internal/testimg"
)

var (
	benchTarOnce sync.Once
	benchTar     *Tar
	benchTarErr  error
)

func cifarTarForBench(b *testing.B) *Tar {
	if _, err := os.Stat(cifarTar); err != nil {
		b.Skipf("%s not present", cifarTar)
	}
	benchTarOnce.Do(func() { benchTar, benchTarErr = NewTar([]string{cifarTar}, TarOptions{}) })
	if benchTarErr != nil {
		b.Fatal(benchTarErr)
	}
	return benchTar
}

// BenchmarkLoaderCIFARTar measures decode + MoCo v3 two-view augmentation
// throughput at 32 px through the Loader with 2 workers, batch 256.
// go test -run '^$' -bench LoaderCIFARTar -benchtime 40x ./moco/data
//
// Measured 2026-11-27 on the shared 2-core dev VM (load ≈ 4 from other
// jobs): 17.6k–19.3k images/s (each image = two 3×32×32 views). One
// goroutine alone: JPEG decode ≈ 45k images/s, two-view augmentation
// ≈ 10.5k images/s; at 224 px ≈ 217 images/s (before the faster
// kernels: docs/BENCHMARKS.md, "Host input pipeline", has the current
// numbers).
func BenchmarkLoaderCIFARTar(b *testing.B) {
	ds := cifarTarForBench(b)
	l, err := NewLoader(ds, NewMoCoV3(32), LoaderConfig{BatchSize: 256, Workers: 2, Prefetch: 2, Seed: 1, Shuffle: true, DropLast: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Next(); err != nil { // fill the pipeline
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Next(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*256)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkDecodeCIFARJPEG is one goroutine decoding the 32×32 JPEGs.
func BenchmarkDecodeCIFARJPEG(b *testing.B) {
	ds := cifarTarForBench(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ds.Item(i % ds.Len()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkAugmentTwoViews32 is one goroutine making both views of a
// decoded 32×32 image.
func BenchmarkAugmentTwoViews32(b *testing.B) {
	src := FromImage(testRGBA(32, 32, 1))
	tf := NewMoCoV3(32)
	dst := [][]float32{make([]float32, 3072), make([]float32, 3072)}
	var s Scratch
	var rng RNG
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rng.SampleRNG(0, 0, uint64(i))
		if err := tf.Apply(dst, &src, &rng, &s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkAugmentTwoViews224 is the ImageNet-size transform on a 500×375 image.
func BenchmarkAugmentTwoViews224(b *testing.B) {
	src := FromImage(testRGBA(500, 375, 1))
	tf := NewMoCoV3(224)
	dst := [][]float32{make([]float32, 3*224*224), make([]float32, 3*224*224)}
	var s Scratch
	var rng RNG
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rng.SampleRNG(0, 0, uint64(i))
		if err := tf.Apply(dst, &src, &rng, &s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkDecodeJPEG500x375 is one goroutine decoding a 500×375 JPEG
// (quality 90, 4:2:0 as image/jpeg writes it; ImageNet's mean size) into
// an Image: DecodeImage is what the readers call (header, decode,
// YCbCr → RGB), stdlib is image/jpeg.Decode alone, convert the YCbCr →
// RGB step alone (chroma upsampling and colour conversion).
func BenchmarkDecodeJPEG500x375(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testimg.Photo(500, 375, 0), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	decoded, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("convert", func(b *testing.B) {
		m := decoded.(*image.YCbCr)
		for i := 0; i < b.N; i++ {
			fromJPEGYCbCr(m)
		}
	})
	b.Run("DecodeImage", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			if _, err := DecodeImage("bench.jpg", data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
	})
}

// BenchmarkDecodeAugment224 is the whole per-image host work of
// ImageNet pretraining, decode of a 500×375 JPEG then both 224 px views,
// on every core (b.RunParallel, one Scratch per goroutine): images/s is
// for the machine, not per core.
func BenchmarkDecodeAugment224(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testimg.Photo(500, 375, 0), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	tf := NewMoCoV3(224)
	var seq atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		dst := [][]float32{make([]float32, 3*224*224), make([]float32, 3*224*224)}
		var s Scratch
		var rng RNG
		for pb.Next() {
			img, err := DecodeImage("bench.jpg", data)
			if err != nil {
				b.Fatal(err)
			}
			rng.SampleRNG(0, 0, seq.Add(1))
			if err := tf.Apply(dst, &img, &rng, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
