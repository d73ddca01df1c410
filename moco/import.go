package moco

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mocogo/mocogo/nn"
)

// Files from outside: the official MoCo v3 checkpoints (main_moco.py's
// .pth.tar: a torch.save zip whose "state_dict" has keys
// module.base_encoder.*, module.momentum_encoder.*, module.predictor.*),
// timm/DeiT state dicts (.pth, the backbone under timm's names, perhaps
// under "model", with a classifier head), and our own safetensors files
// (a training checkpoint, keys model.base_encoder.*…, or a backbone under
// timm's names).

// ReadWeights reads a safetensors file or a PyTorch zip checkpoint,
// whichever path holds.
func ReadWeights(path string) (*nn.SafeFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var magic [4]byte
	n, _ := io.ReadFull(fh, magic[:])
	fh.Close()
	if nn.IsTorchZip(magic[:n]) {
		return nn.ReadTorch(path)
	}
	return nn.ReadSafetensors(path)
}

// ParseWeights is ReadWeights on a file's bytes.
func ParseWeights(b []byte) (*nn.SafeFile, error) {
	if nn.IsTorchZip(b) {
		return nn.ParseTorch(b)
	}
	return nn.ParseSafetensors(b)
}

// Layout names where a weights file keeps the backbone.
type Layout string

const (
	LayoutTraining Layout = "mocogo training checkpoint"  // model.base_encoder.*
	LayoutOfficial Layout = "official MoCo v3 checkpoint" // [module.]base_encoder.*
	LayoutTimm     Layout = "timm/DeiT state dict"        // cls_token, blocks.*, …
)

// DetectLayout says which of the known layouts f has, or an error naming
// what it found instead.
func DetectLayout(f *nn.SafeFile) (Layout, error) {
	has := func(p string) bool {
		return slices.ContainsFunc(f.Tensors, func(t nn.STensor) bool { return strings.HasPrefix(t.Name, p) })
	}
	switch {
	case has("model.base_encoder."):
		return LayoutTraining, nil
	case has("module.base_encoder.") || has("base_encoder."):
		return LayoutOfficial, nil
	case has("cls_token") && has("blocks."):
		return LayoutTimm, nil
	}
	names := make([]string, 0, 4)
	for _, t := range f.Tensors[:min(4, len(f.Tensors))] {
		names = append(names, t.Name)
	}
	return "", fmt.Errorf("moco: %w: no ViT backbone found (no base_encoder.* or cls_token/blocks.* keys; the first keys are %q)", ErrIncompatible, names)
}

// BackboneTensors returns the tensors of f's backbone under timm's names:
// the base encoder of a MoCo checkpoint (its projector head left out), or
// a timm/DeiT state dict without its classifier head.
func BackboneTensors(f *nn.SafeFile) (*nn.SafeFile, Layout, error) {
	layout, err := DetectLayout(f)
	if err != nil {
		return nil, "", err
	}
	sub := &nn.SafeFile{Metadata: f.Metadata}
	for _, t := range f.Tensors {
		name := t.Name
		switch layout {
		case LayoutTraining:
			var ok bool
			if name, ok = strings.CutPrefix(name, "model.base_encoder."); !ok {
				continue
			}
		case LayoutOfficial:
			name = strings.TrimPrefix(name, "module.")
			var ok bool
			if name, ok = strings.CutPrefix(name, "base_encoder."); !ok {
				continue // momentum encoder, predictor
			}
		}
		if strings.HasPrefix(name, "head.") {
			continue // projector or classifier
		}
		t.Name = name
		sub.Tensors = append(sub.Tensors, t)
	}
	return sub, layout, nil
}

// InferViT reads a backbone's shape from its tensors (timm names):
// width from cls_token, patch size and channels from the patch
// projection, image size from pos_embed, depth from the blocks. The
// number of heads is not in the weights: heads > 0 is used, else MoCo v3's
// choice for the width (3 at 192, 12 at 384 and 768) or an error.
func InferViT(f *nn.SafeFile, heads int) (nn.Config, error) {
	shape := func(name string) []int {
		t, ok := f.Get(name)
		if !ok {
			return nil
		}
		return t.Shape
	}
	cls, pw, pos := shape("cls_token"), shape("patch_embed.proj.weight"), shape("pos_embed")
	if len(cls) != 3 || len(pw) != 4 || len(pos) != 3 {
		return nn.Config{}, fmt.Errorf("moco: %w: cls_token %v, patch_embed.proj.weight %v, pos_embed %v are not a ViT's", ErrIncompatible, cls, pw, pos)
	}
	D, p := cls[2], pw[2]
	L := pos[1] - 1
	g := int(math.Sqrt(float64(max(L, 0))))
	for g > 0 && g*g > L {
		g--
	}
	for (g+1)*(g+1) <= L {
		g++
	}
	if g*g != L || pw[0] != D || pw[3] != p || pos[2] != D {
		return nn.Config{}, fmt.Errorf("moco: %w: patch_embed.proj.weight %v and pos_embed %v do not fit width %d on a square grid", ErrIncompatible, pw, pos, D)
	}
	blocks := map[int]bool{}
	for _, t := range f.Tensors {
		if rest, ok := strings.CutPrefix(t.Name, "blocks."); ok {
			if i := strings.IndexByte(rest, '.'); i > 0 {
				if n, err := strconv.Atoi(rest[:i]); err == nil {
					blocks[n] = true
				}
			}
		}
	}
	depth := 0
	for blocks[depth] {
		depth++
	}
	mlp := 4.0
	if fc1 := shape("blocks.0.mlp.fc1.weight"); len(fc1) == 2 && D > 0 {
		mlp = float64(fc1[0]) / float64(D)
	}
	if heads <= 0 {
		switch D {
		case 192:
			heads = 3
		case 384, 768:
			heads = 12
		default:
			return nn.Config{}, fmt.Errorf("moco: width %d: the number of attention heads is not in the weights; give it (--heads)", D)
		}
	}
	cfg := nn.Config{ImageSize: g * p, PatchSize: p, Channels: pw[1], Dim: D, Depth: depth, Heads: heads, MLPRatio: mlp}
	if mlp == 4 {
		cfg.MLPRatio = 0
	}
	if cfg.Channels == 3 {
		cfg.Channels = 0
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("moco: %w: %v", ErrIncompatible, err)
	}
	// Every tensor of that ViT must be in the file with its shape, so
	// that nothing larger than the file is ever built from it.
	for _, ns := range cfg.StateShapes() {
		if got := shape(ns.Name); !slices.Equal(got, ns.Shape) {
			return cfg, fmt.Errorf("moco: %w: a ViT of width %d and depth %d needs %s %v, the file has %v", ErrIncompatible, D, depth, ns.Name, ns.Shape, got)
		}
	}
	return cfg, nil
}

// LoadOfficial loads an official MoCo v3 checkpoint (or any file with the
// same keys, "module." optional) into m: both encoders with their heads,
// the predictor and the BN statistics; PyTorch's num_batches_tracked
// counters are skipped. Every tensor must match: missing, unexpected or
// misshapen ones are an error naming them.
func LoadOfficial(path string, m *Model) (*nn.LoadReport, error) {
	f, err := ReadWeights(path)
	if err != nil {
		return nil, err
	}
	if l, err := DetectLayout(f); err != nil || l != LayoutOfficial {
		if err == nil {
			err = fmt.Errorf("moco: %w: %s is a %s, not an official MoCo v3 checkpoint", ErrIncompatible, path, l)
		}
		return nil, err
	}
	sub := &nn.SafeFile{Metadata: f.Metadata}
	for _, t := range f.Tensors {
		if strings.HasSuffix(t.Name, ".num_batches_tracked") {
			continue
		}
		t.Name = strings.TrimPrefix(t.Name, "module.")
		sub.Tensors = append(sub.Tensors, t)
	}
	r, err := sub.LoadInto(m.StateDict(), true)
	if err != nil {
		return r, fmt.Errorf("moco: %s: %w", path, err)
	}
	return r, nil
}
