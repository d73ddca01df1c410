// Package nn holds the model half of mocogo: modules that build engine ops
// (Linear, LayerNorm, BatchNorm1d, the MoCo v3 MLP heads, attention,
// transformer blocks and the MoCo v3 ViT), their initialisers, the
// optimizers and schedules that train them, and checkpoint files in the
// safetensors format under timm's key names.
//
// A module is a struct of kept engine tensors, each named with its timm /
// PyTorch state-dict key ("blocks.0.attn.qkv.weight"). Forward builds the
// graph on the module's engine; the caller runs Backward, an optimizer step
// and Engine.Reset as usual.
package nn
