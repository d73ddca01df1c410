// Package data is the input side of MoCo v3 training: dataset readers
// (ImageFolder directories; tar archives, one or a set of shards, in
// WebDataset's layout or ImageFolder's; CIFAR-10/100 binary batches;
// MNIST-family IDX files), the MoCo v3
// two-view augmentation and the evaluation transforms, and a Loader
// that decodes and augments in worker goroutines and yields float32
// NCHW batches.
//
// Baseline and progressive JPEGs, nearly every photo, are decoded by
// internal/jpegdec, whose samples are libjpeg's (the ones Pillow, and so
// torchvision, decodes) and which is about three times as fast as
// image/jpeg on baseline files. Other JPEGs (arithmetic-coded, RGB or
// CMYK ones, for instance) and other formats go to the standard
// library's decoders (image/jpeg, image/png) and
// golang.org/x/image's (WebP, BMP). The augmentation's pixel loops have AVX2 forms
// in Go assembly, chosen at start where the CPU has AVX2; they give the
// plain Go loops' bits, so a view does not depend on the machine (see
// useAVX2).
//
// # Determinism
//
// Every random choice made for a sample (crop, jitter factors and
// order, grayscale, blur σ, solarize, flip) comes from an RNG seeded by
// (seed, epoch, dataset index) only, so the same seed gives bit-identical
// batches whatever the number of workers or the order in which they
// finish. The epoch's shuffle comes from (seed, epoch).
//
// # Following torchvision and PIL
//
// The official moco-v3 main_moco.py runs torchvision transforms on PIL
// images, so every op there rounds to uint8. This package computes the
// same formulas on float32 values in [0, 1] (torchvision's tensor
// formulas, see functional_tensor.py) and never rounds in between; the
// resulting views differ from PIL's by the uint8 rounding only (a few
// 1/255 steps at most). Details per op:
//
//   - RandomResizedCrop: torchvision's get_params (10 tries of
//     area ∈ scale·A, log-uniform aspect ratio, Python round-half-even,
//     then the center-crop fallback); the crop is resized with a
//     separable bilinear (triangle) filter whose support widens by the
//     downscale factor, which is PIL's antialiased bilinear resize (and
//     torchvision's tensor resize with antialias=True).
//   - ColorJitter(0.4, 0.4, 0.2, 0.1) with p = 0.8: the four ops in a
//     random order; brightness blends with black, contrast with the mean
//     of the ITU-R 601-2 luma (0.2989, 0.587, 0.114), saturation with the
//     luma image, hue adds the factor to H in HSV (torchvision _rgb2hsv
//     and _hsv2rgb); every blend is clamped to [0, 1].
//   - RandomGrayscale p = 0.2: luma copied to three channels.
//   - GaussianBlur: the official code calls PIL's
//     ImageFilter.GaussianBlur(radius=σ), σ ∈ [0.1, 2.0], which is not a
//     sampled Gaussian kernel but three passes of an "extended box"
//     filter per axis (Gwosdek et al. 2011) with edge pixels repeated.
//     This package implements that filter (box radius
//     l + a from σ²/3, tails weighted by the fractional part), not
//     torchvision's GaussianBlur(kernel_size, sigma).
//   - Solarize(128): PIL ImageOps.solarize inverts values ≥ 128, here
//     x ≥ 128/255 → 1 − x.
//   - Horizontal flip p = 0.5, then Normalize with the ImageNet mean and
//     std.
//
// Single-channel images (MNIST) are replicated to three channels before
// the transforms, as PIL's convert("RGB") would do.
package data
