package moco

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mocogo/mocogo/moco/data"
	"github.com/mocogo/mocogo/nn"
)

// checkpointFormat names the layout of a training checkpoint.
const checkpointFormat = "mocogo-mocov3-train/2" // 2: checksum, RNG scheme, schedules, health

// RunState is what a checkpoint records beside the tensors: enough to
// continue a run exactly where it stopped.
type RunState struct {
	Format    string        `json:"format"`
	Model     Config        `json:"model"`
	Train     TrainConfig   `json:"train"`
	Seed      uint64        `json:"seed"`
	Step      int           `json:"step"`
	Position  data.Position `json:"position"` // the next batch to train on
	AdamSteps []int         `json:"adam_steps"`
	Data      string        `json:"data"` // what the run trains on, checked on resume
	DataLen   int           `json:"data_len"`
	// HeldOut says which images of the data the run keeps out of training
	// for its kNN monitor ("100 per class", "none"), checked on resume;
	// empty in checkpoints written before it was recorded.
	HeldOut string `json:"held_out,omitempty"`
	// Device and Precision say where and in what arithmetic the run
	// trains ("cpu", "fp32"); Substitutes, whether an unreadable image is
	// replaced by another (pretrain --skip-bad). pretrain compares them
	// before a fresh run replaces a finished one; empty in checkpoints
	// written before they were recorded.
	Device      string `json:"device,omitempty"`
	Precision   string `json:"precision,omitempty"`
	Substitutes bool   `json:"substitutes,omitempty"`
	// LR and Momentum are the schedules' values at the last step taken.
	LR       float64 `json:"lr"`
	Momentum float64 `json:"momentum"`
	// RNG says where the run's randomness stands. Every random draw of
	// the data pipeline comes from a generator seeded by (Seed, epoch,
	// sample index) and the initialisation from Seed alone, so Seed and
	// Position are the whole state; the entry names the scheme so that a
	// build that changes it refuses the file.
	RNG string `json:"rng"`
	// Health is the spike detector's running state.
	Health HealthState `json:"health"`
	// LossScale is the dynamic loss scaler's state, present exactly when
	// Train.LossScale is enabled (checkpoints of unscaled runs, and those
	// written before loss scaling existed, have neither).
	LossScale *LossScaleState `json:"loss_scale,omitempty"`
	// SkippedSteps counts the steps skipped for overflowing gradients.
	SkippedSteps int `json:"skipped_steps,omitempty"`
}

// rngScheme is RunState.RNG for this build.
const rngScheme = "data.RNG pcg-dxsm(seed, epoch, index); init nn.NewRNG(seed)"

// SaveCheckpoint writes the whole training state to path atomically: the
// model (both encoders, heads, predictor, BN statistics) under "model.",
// AdamW's moments under "optim.", and st in the metadata.
func (t *Trainer) SaveCheckpoint(path string, st RunState) error {
	st.Format = checkpointFormat
	st.Model = t.Model.Config
	st.Train = t.Cfg
	st.Step = t.Step
	st.AdamSteps = t.Opt.Steps()
	st.RNG = rngScheme
	st.LR, st.Momentum = t.lastLR, t.lastMom
	st.Health = t.Health.State()
	st.LossScale, st.SkippedSteps = nil, t.SkippedSteps
	if t.Scaler != nil {
		ls := t.Scaler.State()
		st.LossScale = &ls
	}
	// The deferred weight check (TrainConfig.CheckWeightsAfterUpdate)
	// has not yet seen the last update: look before writing.
	if w := t.WeightNorm(); !finite(w) {
		return fmt.Errorf("moco: not saving the checkpoint of step %d: %w: a weight is %v", t.Step, ErrNonFinite, w)
	}
	meta, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("moco: checkpoint metadata: %w", err)
	}
	named := append(prefixed("model.", t.Model.StateDict()), prefixed("optim.", t.Opt.State())...)
	tensors, err := nn.StateTensors(named, "F32")
	if err != nil {
		return err
	}
	return nn.WriteSealed(path, tensors, map[string]string{"mocogo": string(meta), "format": "pt"})
}

// ParseRunState decodes and checks a checkpoint's "mocogo" metadata entry:
// the format, the model config (sizes that can build a model) and the
// recipe. It never panics on hostile input.
func ParseRunState(raw []byte) (RunState, error) {
	var st RunState
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("reading its metadata: %w", err)
	}
	if dec.More() {
		return st, errors.New("reading its metadata: trailing data after the JSON object")
	}
	if st.Format != checkpointFormat {
		return st, fmt.Errorf("checkpoint format %q, this build reads %q", st.Format, checkpointFormat)
	}
	if st.RNG != rngScheme {
		return st, fmt.Errorf("random-number scheme %q, this build uses %q: the run cannot continue exactly", st.RNG, rngScheme)
	}
	if err := st.Model.Validate(); err != nil {
		return st, fmt.Errorf("model config: %w", err)
	}
	if err := st.Train.Validate(); err != nil {
		return st, fmt.Errorf("recipe: %w", err)
	}
	if st.Step < 0 || st.Position.Epoch < 0 || st.Position.Batch < 0 || st.DataLen < 0 {
		return st, fmt.Errorf("negative step %d, position %+v or data length %d", st.Step, st.Position, st.DataLen)
	}
	if st.SkippedSteps < 0 || st.SkippedSteps > st.Step {
		return st, fmt.Errorf("%d skipped steps outside [0, step %d]", st.SkippedSteps, st.Step)
	}
	switch {
	case st.Train.LossScale.Enabled && st.LossScale == nil:
		return st, errors.New("its recipe scales the loss but it holds no loss-scale state")
	case !st.Train.LossScale.Enabled && st.LossScale != nil:
		return st, errors.New("it holds a loss-scale state but its recipe does not scale the loss")
	case st.LossScale != nil:
		s, err := NewLossScaler(st.Train.LossScale)
		if err == nil {
			err = s.SetState(*st.LossScale)
		}
		if err != nil {
			return st, fmt.Errorf("loss scale: %w", err)
		}
	}
	for _, n := range st.AdamSteps {
		if n < 0 || n > st.Step {
			return st, fmt.Errorf("optimizer step count %d outside [0, step %d]", n, st.Step)
		}
	}
	return st, nil
}

// ReadRunState reads a checkpoint's file and metadata without loading it.
func ReadRunState(path string) (*nn.SafeFile, RunState, error) {
	var st RunState
	f, err := nn.ReadSafetensors(path)
	if err != nil {
		return nil, st, err
	}
	raw, ok := f.Metadata["mocogo"]
	if !ok {
		return nil, st, fmt.Errorf("moco: %s is not a mocogo training checkpoint (no \"mocogo\" metadata)", path)
	}
	// An older layout is named as such rather than as a damaged file.
	var head struct{ Format string }
	if json.Unmarshal([]byte(raw), &head) == nil && head.Format != checkpointFormat && strings.HasPrefix(head.Format, "mocogo-") {
		return nil, st, fmt.Errorf("moco: %s: checkpoint format %q, this build reads %q", path, head.Format, checkpointFormat)
	}
	if err := f.VerifyChecksum(true); err != nil {
		return nil, st, fmt.Errorf("moco: %s: %w", path, err)
	}
	if st, err = ParseRunState([]byte(raw)); err != nil {
		return nil, st, fmt.Errorf("moco: %s: %w", path, err)
	}
	// The config must describe the tensors the file holds, so that a
	// reader building a model from it allocates no more than the file.
	sub, _, err := BackboneTensors(f)
	if err != nil {
		return nil, st, fmt.Errorf("moco: %s: %w", path, err)
	}
	got, err := InferViT(sub, st.Model.ViT.Heads)
	if err != nil {
		return nil, st, fmt.Errorf("moco: %s: %w", path, err)
	}
	want := st.Model.ViT
	want.TrainPatchEmbed = false
	if got.Normalized() != want.Normalized() {
		return nil, st, fmt.Errorf("moco: %s: %w: its metadata describes ViT %+v, its tensors ViT %+v", path, ErrIncompatible, want, got)
	}
	return f, st, nil
}

// ErrIncompatible is wrapped by errors for checkpoints of another model
// or another run.
var ErrIncompatible = errors.New("checkpoint does not fit this run")

// RestoreCheckpoint loads a checkpoint read by ReadRunState into the
// trainer, which must have been built with the same model config. It
// checks everything before changing anything.
func (t *Trainer) RestoreCheckpoint(f *nn.SafeFile, st RunState) error {
	if st.Model != t.Model.Config {
		return fmt.Errorf("moco: %w: it holds model %+v, this run builds %+v", ErrIncompatible, st.Model, t.Model.Config)
	}
	named := append(prefixed("model.", t.Model.StateDict()), prefixed("optim.", t.Opt.State())...)
	if len(st.AdamSteps) != len(t.Opt.Params) {
		return fmt.Errorf("moco: %w: optimizer state for %d parameters, this model has %d", ErrIncompatible, len(st.AdamSteps), len(t.Opt.Params))
	}
	switch {
	case st.Train.LossScale != t.Cfg.LossScale:
		return fmt.Errorf("moco: %w: it was trained with loss scaling %+v, this run uses %+v", ErrIncompatible, st.Train.LossScale, t.Cfg.LossScale)
	case t.Scaler != nil && st.LossScale == nil:
		return fmt.Errorf("moco: %w: it holds no loss-scale state", ErrIncompatible)
	case t.Scaler != nil:
		probe := *t.Scaler // checked on a copy: nothing changes before all is checked
		if err := probe.SetState(*st.LossScale); err != nil {
			return fmt.Errorf("moco: %w: %v", ErrIncompatible, err)
		}
	}
	if _, err := f.LoadInto(named, true); err != nil {
		return fmt.Errorf("moco: %w: %v", ErrIncompatible, err)
	}
	if err := t.Opt.SetSteps(st.AdamSteps); err != nil {
		return err
	}
	t.Step = st.Step
	t.Health.SetState(st.Health)
	if t.Scaler != nil {
		if err := t.Scaler.SetState(*st.LossScale); err != nil {
			return err // checked above
		}
	}
	t.SkippedSteps = st.SkippedSteps
	t.lastLR, t.lastMom = st.LR, st.Momentum
	return nil
}

// SaveBackbone writes the base encoder's ViT under timm's key names
// (patch_embed.proj.weight, blocks.0.attn.qkv.weight, …, norm.weight),
// loadable by timm's VisionTransformer with the same width and depth.
func SaveBackbone(path string, m *Model, meta map[string]string) error {
	return nn.SaveState(path, m.Base.StateDict(), meta)
}

// LoadBackbone fills vit from a file written by SaveBackbone, a training
// checkpoint (its base encoder), an official MoCo v3 .pth.tar (its base
// encoder) or a timm/DeiT state dict (without its classifier head).
// Every backbone tensor must be there with vit's shape.
func LoadBackbone(path string, vit *nn.ViT) error {
	f, err := ReadWeights(path)
	if err != nil {
		return err
	}
	if err := f.VerifyChecksum(false); err != nil {
		return fmt.Errorf("moco: %s: %w", path, err)
	}
	sub, layout, err := BackboneTensors(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := sub.LoadInto(vit.StateDict(), true); err != nil {
		return fmt.Errorf("moco: loading the backbone from %s (%s): %w", path, layout, err)
	}
	return nil
}
