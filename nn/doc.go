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
//
// Checkpoints: SaveState writes a module's StateDict as float32
// safetensors under its keys, so the ViT's file loads into timm's (or
// scripts/torch/mocov3.py's) VisionTransformer with load_state_dict
// (strict; the head excepted). BatchNorm1d saves running_mean and
// running_var but not PyTorch's integer num_batches_tracked, which
// PyTorch fills in when it is absent. LoadState checks names, shapes and
// dtypes and reports what is missing, unexpected or mismatched.
// WriteSealed adds a SHA-256 over names, shapes, bytes and metadata
// (ChecksumKey) and VerifyChecksum checks it; every write goes to a
// temporary file, is synced and renamed over the old one.
//
// PyTorch files: ParseTorch reads a torch.save zip (the official MoCo v3
// .pth.tar, timm/DeiT .pth) with github.com/nlpodyssey/gopickle's
// unpickler, after checking every length in the pickle and every storage
// against the archive's size, so hostile files cost no more memory than
// their own length.
package nn
