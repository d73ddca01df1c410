"""PyTorch checkpoint fixtures for the .pth import (package moco).

Run from the repository root with Debian's torch:
    /usr/bin/python3 scripts/golden/pth_fixture.py
Writes, for a tiny MoCo v3 model (scripts/torch/mocov3.py):
  testdata/golden/mocov3_tiny.pth.tar  the official checkpoint layout that
      main_moco.py saves: {"epoch", "arch", "state_dict" (keys
      module.base_encoder.*, module.momentum_encoder.*, module.predictor.*,
      BN num_batches_tracked included), "optimizer", "scaler"}
  testdata/golden/deit_tiny.pth  a timm/DeiT-style file: {"model": the
      backbone's state dict under timm's names with a 10-class head}
  testdata/golden/pth_features.safetensors  four images and the cls
      features the base encoder's backbone (and the DeiT-style one) gives.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "torch"))
import mocov3  # noqa: E402
from vit import perturb, save  # noqa: E402

out = "testdata/golden"
torch.manual_seed(11)
cfg = dict(img=16, patch=4, dim=16, depth=2, heads=2)
model = mocov3.MoCoV3(cfg, dim=8, mlp_dim=16, T=0.2)
perturb(model.base_encoder, scale=0.05)
perturb(model.momentum_encoder, scale=0.05)
perturb(model.predictor, scale=0.05)
# BN statistics off their init, as after training.
with torch.no_grad():
    for name, b in model.named_buffers():
        if "running" in name:
            b.add_(torch.rand_like(b))
        if "num_batches" in name:
            b.fill_(7)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
x = torch.randn(4, 3, 16, 16)
model.train()
loss = model(x, torch.randn(4, 3, 16, 16), 0.99)
loss.backward()
opt.step()
model.eval()
state = {"module." + k: v for k, v in model.state_dict().items()}
torch.save({"epoch": 3, "arch": "vit_tiny_16px", "state_dict": state,
            "optimizer": opt.state_dict(), "scaler": {}},
           os.path.join(out, "mocov3_tiny.pth.tar"))

# timm/DeiT: the backbone alone, a classifier head, under "model".
deit = mocov3.ViT(**cfg)
perturb(deit, scale=0.05)
deit.head = torch.nn.Linear(16, 10)
with torch.no_grad():
    base = model.base_encoder
    head, base.head = base.head, torch.nn.Identity()
    feat = base(x)
    base.head = head
    dhead, deit.head = deit.head, torch.nn.Identity()
    dfeat = deit(x)
    deit.head = dhead
torch.save({"model": deit.state_dict(), "epoch": 299}, os.path.join(out, "deit_tiny.pth"))
save(os.path.join(out, "pth_features.safetensors"),
     {"images": x, "features": feat, "deit_features": dfeat})
print("base keys", len(state), "deit keys", len(deit.state_dict()))

# A small torch.save file for the fuzz targets' seed corpus: a float32
# matrix, a strided float64 view (saved with its whole storage) and an
# int64 scalar.
w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
v = torch.arange(8, dtype=torch.float64)[1::3]
torch.save({"w": w, "v": v, "n": torch.tensor(5)}, os.path.join(out, "small_state.pth"))

# A distilled-DeiT-style file: timm's keys plus dist_token and head_dist,
# which a plain ViT does not have (the import must name them).
with torch.no_grad():
    sd = {k: v for k, v in deit.state_dict().items()}
    sd["dist_token"] = torch.zeros(1, 1, 16)
    sd["head_dist.weight"] = torch.zeros(10, 16)
    sd["head_dist.bias"] = torch.zeros(10)
torch.save({"model": sd}, os.path.join(out, "deit_distilled_tiny.pth"))
