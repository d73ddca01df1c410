package moco

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mocogo/mocogo/moco/data"
	"github.com/mocogo/mocogo/nn"
)

// checkpointFormat names the layout of a training checkpoint.
const checkpointFormat = "mocogo-mocov3-train/1"

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
}

// SaveCheckpoint writes the whole training state to path atomically: the
// model (both encoders, heads, predictor, BN statistics) under "model.",
// AdamW's moments under "optim.", and st in the metadata.
func (t *Trainer) SaveCheckpoint(path string, st RunState) error {
	st.Format = checkpointFormat
	st.Model = t.Model.Config
	st.Train = t.Cfg
	st.Step = t.Step
	st.AdamSteps = t.Opt.Steps()
	meta, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("moco: checkpoint metadata: %w", err)
	}
	named := append(prefixed("model.", t.Model.StateDict()), prefixed("optim.", t.Opt.State())...)
	tensors, err := nn.StateTensors(named, "F32")
	if err != nil {
		return err
	}
	return nn.WriteSafetensors(path, tensors, map[string]string{"mocogo": string(meta), "format": "pt"})
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
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return nil, st, fmt.Errorf("moco: %s: reading its metadata: %w", path, err)
	}
	if st.Format != checkpointFormat {
		return nil, st, fmt.Errorf("moco: %s: checkpoint format %q, this build reads %q", path, st.Format, checkpointFormat)
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
	if _, err := f.LoadInto(named, true); err != nil {
		return fmt.Errorf("moco: %w: %v", ErrIncompatible, err)
	}
	if err := t.Opt.SetSteps(st.AdamSteps); err != nil {
		return err
	}
	t.Step = st.Step
	return nil
}

// SaveBackbone writes the base encoder's ViT under timm's key names
// (patch_embed.proj.weight, blocks.0.attn.qkv.weight, …, norm.weight),
// loadable by timm's VisionTransformer with the same width and depth.
func SaveBackbone(path string, m *Model, meta map[string]string) error {
	return nn.SaveState(path, m.Base.StateDict(), meta)
}

// LoadBackbone fills vit from a file written by SaveBackbone, or from a
// training checkpoint (its base encoder).
func LoadBackbone(path string, vit *nn.ViT) error {
	f, err := nn.ReadSafetensors(path)
	if err != nil {
		return err
	}
	if _, ok := f.Metadata["mocogo"]; ok {
		// A training checkpoint: take the base encoder's tensors.
		sub := &nn.SafeFile{Metadata: f.Metadata}
		for _, t := range f.Tensors {
			if name, ok := strings.CutPrefix(t.Name, "model.base_encoder."); ok && !strings.HasPrefix(name, "head.") {
				t.Name = name
				sub.Tensors = append(sub.Tensors, t)
			}
		}
		f = sub
	}
	if _, err := f.LoadInto(vit.StateDict(), true); err != nil {
		return fmt.Errorf("moco: loading the backbone from %s: %w", path, err)
	}
	return nil
}
