"""Golden vectors for six MoCo v3 training iterations (package moco), made with PyTorch.

Run from the repository root with Debian's torch:
    /usr/bin/python3 scripts/golden/moco_train.py
Writes testdata/golden/moco_train.safetensors.

moco_step.safetensors pins one forward and backward. This file pins the
loop around them, as facebookresearch/moco-v3's main_moco.py runs it:
each iteration sets the learning rate (linear warmup, then half a cosine)
and the momentum coefficient (raised to 1 along a cosine) at the fractional
epoch epoch + i/iters_per_epoch, runs the model (which first moves the
momentum encoder, then computes the keys), and steps torch.optim.AdamW over
model.parameters() with weight decay on every trainable tensor (the frozen
patch projection and the momentum encoder have no gradient and are
skipped). The recipe's numbers are chosen so that every part shows within
six iterations: two epochs of three iterations, one epoch of warmup (the
first iteration's rate is 0, so its update is weight decay's zero and the
moments alone move), a learning rate large enough that the weights move
well past float64 rounding, and an initial momentum of 0.9.

Stored, float64: "init." the whole state dict before the first iteration
(the momentum encoder a copy of the base, as at the start of a run), the
views "x1.<s>" and "x2.<s>" of iteration s, the per-iteration "lr", "m" and
"loss", and "final." the whole state dict after the sixth update (BN
running statistics included). The recipe is in the metadata.
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "torch"))
import mocov3  # noqa: E402
from vit import perturb, save  # noqa: E402

torch.manual_seed(11)
cfg = dict(img=16, patch=4, dim=32, depth=2, heads=2)
recipe = dict(epochs=2, iters_per_epoch=3, batch=4, base_lr=0.64, warmup_epochs=1.0,
              weight_decay=0.1, moco_m=0.9, mlp_dim=64, out_dim=32, T=0.2)
model = mocov3.MoCoV3(cfg, dim=recipe["out_dim"], mlp_dim=recipe["mlp_dim"], T=recipe["T"]).double()
perturb(model.base_encoder, scale=0.05)
perturb(model.predictor, scale=0.05)
with torch.no_grad():
    for pb, pm in zip(model.base_encoder.parameters(), model.momentum_encoder.parameters()):
        pm.copy_(pb)


def state():
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "num_batches" not in k}


init = state()
lr_peak = recipe["base_lr"] * recipe["batch"] / 256  # main_moco.py: args.lr = args.lr * batch / 256


def adjust_learning_rate(epoch):
    if epoch < recipe["warmup_epochs"]:
        return lr_peak * epoch / recipe["warmup_epochs"]
    w, total = recipe["warmup_epochs"], recipe["epochs"]
    return lr_peak * 0.5 * (1.0 + math.cos(math.pi * (epoch - w) / (total - w)))


def adjust_moco_momentum(epoch):
    return 1.0 - 0.5 * (1.0 + math.cos(math.pi * epoch / recipe["epochs"])) * (1.0 - recipe["moco_m"])


optimizer = torch.optim.AdamW(model.parameters(), lr_peak, weight_decay=recipe["weight_decay"])
out, lrs, ms, losses = {}, [], [], []
s = 0
for epoch in range(recipe["epochs"]):
    for i in range(recipe["iters_per_epoch"]):
        ep = epoch + i / recipe["iters_per_epoch"]
        lr = adjust_learning_rate(ep)
        for g in optimizer.param_groups:
            g["lr"] = lr
        m = adjust_moco_momentum(ep)
        B, img = recipe["batch"], cfg["img"]
        x1 = torch.randn(B, 3, img, img, dtype=torch.float64)
        x2 = torch.randn(B, 3, img, img, dtype=torch.float64)
        loss = model(x1, x2, m)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        out[f"x1.{s}"], out[f"x2.{s}"] = x1, x2
        lrs.append(lr)
        ms.append(m)
        losses.append(loss.item())
        s += 1

final = state()
moved = max((final[k] - init[k]).abs().max().item() for k in init if k.startswith("base_encoder.blocks"))
out["lr"] = torch.tensor(lrs, dtype=torch.float64)
out["m"] = torch.tensor(ms, dtype=torch.float64)
out["loss"] = torch.tensor(losses, dtype=torch.float64)
save("testdata/golden/moco_train.safetensors",
     {**{"init." + k: v for k, v in init.items()}, **out, **{"final." + k: v for k, v in final.items()}},
     {k: str(v) for k, v in {**cfg, **recipe, "torch": torch.__version__}.items()})
print("losses", losses)
print("lrs", lrs)
print("largest change of a block weight", moved)
