package moco

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/nn"
)

// Config is a MoCo v3 model: the ViT and the heads.
type Config struct {
	ViT         nn.Config
	MLPDim      int     // hidden width of projector and predictor (4096)
	OutDim      int     // output width (256)
	Temperature float64 // T in the loss (0.2)
}

// DefaultConfig is the paper's head for a ViT: 4096 hidden, 256 out, T 0.2.
func DefaultConfig(vit nn.Config) Config {
	return Config{ViT: vit, MLPDim: 4096, OutDim: 256, Temperature: 0.2}
}

// Validate reports a configuration that cannot build a model.
func (c Config) Validate() error {
	if err := c.ViT.Validate(); err != nil {
		return err
	}
	if c.MLPDim <= 0 || c.OutDim <= 0 {
		return fmt.Errorf("moco: head sizes must be positive, got mlp %d out %d", c.MLPDim, c.OutDim)
	}
	if !(c.Temperature > 0) || math.IsInf(c.Temperature, 0) {
		return fmt.Errorf("moco: temperature must be a positive finite number, got %g", c.Temperature)
	}
	return nil
}

// Model is MoCo v3 (MoCo_ViT in the official code): a base encoder (ViT +
// 3-layer projector), a 2-layer predictor, and a momentum encoder of the
// same shape that follows the base by EMA and gets no gradient.
type Model struct {
	Config       Config
	Base         *nn.ViT
	Projector    *nn.MLP // base_encoder.head
	Predictor    *nn.MLP
	Momentum     *nn.ViT
	MomentumHead *nn.MLP // momentum_encoder.head
}

// New builds the model with the MoCo v3 init drawn from rng; the momentum
// encoder starts as a copy of the base encoder.
func New(e *engine.Engine, cfg Config, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Config: cfg}
	var err error
	// Draw order as in the official code: base ViT, momentum ViT (copied
	// over below), then the heads.
	if m.Base, err = nn.NewViT(e, cfg.ViT, rng); err != nil {
		return nil, err
	}
	if m.Momentum, err = nn.NewViT(e, cfg.ViT, rng); err != nil {
		return nil, err
	}
	dim := cfg.ViT.Dim
	m.Projector = nn.BuildMLP(e, "head", 3, dim, cfg.MLPDim, cfg.OutDim, true, rng)
	m.MomentumHead = nn.BuildMLP(e, "head", 3, dim, cfg.MLPDim, cfg.OutDim, true, rng)
	m.Predictor = nn.BuildMLP(e, "", 2, cfg.OutDim, cfg.MLPDim, cfg.OutDim, true, rng)
	base, mom := m.baseParams(), m.momentumParams()
	for i := range base {
		e.Backend().Copy(mom[i].Tensor.Storage(), base[i].Tensor.Storage())
		mom[i].Tensor.SetRequiresGrad(false)
	}
	return m, nil
}

// baseParams lists the base encoder's parameters (backbone then
// projector), in the order momentumParams lists their twins.
func (m *Model) baseParams() []nn.Named {
	return append(m.Base.Parameters(), m.Projector.Parameters()...)
}

func (m *Model) momentumParams() []nn.Named {
	return append(m.Momentum.Parameters(), m.MomentumHead.Parameters()...)
}

// Parameters lists what the optimizer updates: base encoder, projector and
// predictor, under the official checkpoint's names. Frozen tensors (the
// patch projection, pos_embed) are listed but need no gradient.
func (m *Model) Parameters() []nn.Named {
	var ps []nn.Named
	ps = append(ps, prefixed("base_encoder.", m.Base.Parameters())...)
	ps = append(ps, prefixed("base_encoder.", m.Projector.Parameters())...)
	return append(ps, prefixed("predictor.", m.Predictor.Parameters())...)
}

// StateDict lists every tensor of the model, BN running statistics
// included, under the official MoCo v3 checkpoint's names without the
// DistributedDataParallel "module." prefix.
func (m *Model) StateDict() []nn.Named {
	var ps []nn.Named
	ps = append(ps, prefixed("base_encoder.", m.Base.StateDict())...)
	ps = append(ps, prefixed("base_encoder.", m.Projector.StateDict())...)
	ps = append(ps, prefixed("momentum_encoder.", m.Momentum.StateDict())...)
	ps = append(ps, prefixed("momentum_encoder.", m.MomentumHead.StateDict())...)
	return append(ps, prefixed("predictor.", m.Predictor.StateDict())...)
}

func prefixed(p string, ns []nn.Named) []nn.Named {
	out := make([]nn.Named, len(ns))
	for i, n := range ns {
		out[i] = nn.Named{Name: p + n.Name, Tensor: n.Tensor}
	}
	return out
}

// Train switches the heads' batch norms between batch statistics (true)
// and running statistics.
func (m *Model) Train(on bool) {
	m.Projector.Train(on)
	m.Predictor.Train(on)
	m.MomentumHead.Train(on)
}

// UpdateMomentum sets every momentum-encoder parameter to
// mom·itself + (1−mom)·its base twin (backbone and projector; BN running
// statistics are buffers and are not averaged, as in the official code).
func (m *Model) UpdateMomentum(mom float64) {
	base, tw := m.baseParams(), m.momentumParams()
	if len(base) == 0 {
		return
	}
	dsts, srcs := make([]engine.Storage, len(base)), make([]engine.Storage, len(base))
	for i := range base {
		dsts[i], srcs[i] = tw[i].Tensor.Storage(), base[i].Tensor.Storage()
	}
	engine.EMAAll(base[0].Tensor.Engine().Backend(), dsts, srcs, mom)
}

// Loss runs one MoCo v3 forward on the two views x1, x2 [B, C, H, W]: the
// queries through base encoder and predictor, then, with recording off,
// the momentum update and the keys; it returns the symmetric loss.
func (m *Model) Loss(x1, x2 *engine.Tensor, mom float64) *engine.Tensor {
	q1 := m.Predictor.Forward(m.Projector.Forward(m.Base.Forward(x1)))
	q2 := m.Predictor.Forward(m.Projector.Forward(m.Base.Forward(x2)))
	// The keys need no graph: each view's momentum forward gives its
	// activations back as soon as its keys are out.
	e := x1.Engine()
	e.NoGrad(func() { m.UpdateMomentum(mom) })
	k1 := e.Detached(func() []*engine.Tensor { return []*engine.Tensor{m.MomentumHead.Forward(m.Momentum.Forward(x1))} })[0]
	k2 := e.Detached(func() []*engine.Tensor { return []*engine.Tensor{m.MomentumHead.Forward(m.Momentum.Forward(x2))} })[0]
	return SymmetricLoss(q1, q2, k1, k2, m.Config.Temperature)
}

// Features returns the backbone's cls features of images, with no graph:
// what kNN and the linear probe read.
func (m *Model) Features(images *engine.Tensor) *engine.Tensor {
	return images.Engine().Detached(func() []*engine.Tensor { return []*engine.Tensor{m.Base.Forward(images)} })[0]
}
