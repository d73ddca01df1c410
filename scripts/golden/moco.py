"""Golden vectors for one MoCo v3 step (package moco), made with PyTorch.

Run from the repository root with Debian's torch:
    /usr/bin/python3 scripts/golden/moco.py
Writes testdata/golden/moco_step.safetensors: the whole model state under
the official checkpoint's names (without "module."), the two views, the
momentum m, the loss, the gradient of every trainable parameter, and the
momentum encoder and BN running statistics after the step's forward.
The model is scripts/torch/mocov3.py (the official MoCo_ViT), in float64,
with the momentum encoder moved off the base so the EMA shows.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "torch"))
import mocov3  # noqa: E402
from vit import perturb, save  # noqa: E402

torch.manual_seed(3)
cfg = dict(img=32, patch=8, dim=48, depth=2, heads=3)
model = mocov3.MoCoV3(cfg, dim=32, mlp_dim=64, T=0.2).double()
perturb(model.base_encoder, scale=0.05)
perturb(model.predictor, scale=0.05)
with torch.no_grad():
    for p in model.momentum_encoder.parameters():
        if p.dim() > 0:
            p.add_(torch.randn_like(p) * 0.05)
    # pos_embed and the frozen patch projection must match (they never train).
    for pb, pm in zip(model.base_encoder.parameters(), model.momentum_encoder.parameters()):
        if not pb.requires_grad:
            pm.copy_(pb)
state0 = {k: v.clone() for k, v in model.state_dict().items() if "num_batches" not in k}
B = 6
x1 = torch.randn(B, 3, 32, 32, dtype=torch.float64)
x2 = torch.randn(B, 3, 32, 32, dtype=torch.float64)
m = 0.99
loss = model(x1, x2, m)
loss.backward()
out = {"x1": x1, "x2": x2, "m": torch.tensor([m], dtype=torch.float64), "loss": loss.reshape(1)}
for name, p in model.named_parameters():
    if p.grad is not None:
        out["grad." + name] = p.grad
for k, v in model.state_dict().items():
    if "num_batches" in k:
        continue
    if k.startswith("momentum_encoder.") or "running" in k:
        out["after." + k] = v
save("testdata/golden/moco_step.safetensors", {**{"w." + k: v for k, v in state0.items()}, **out},
     {k: str(v) for k, v in {**cfg, "mlp_dim": 64, "out_dim": 32, "T": 0.2}.items()})
print("loss", loss.item())
