"""Golden vectors for nn's optimizers, made with torch.optim.

Run from the repository root with Debian's torch:
    /usr/bin/python3 scripts/golden/optim.py
It writes testdata/golden/optim.json: three float64 parameters, the
gradients fed on each of 5 steps (parameter "c" gets none on step 2, so
the optimizer must skip it), the learning rate of each step and the
parameters after each step, for AdamW and SGD with momentum.
"""
import json

import torch

torch.manual_seed(3)
dt = torch.float64
shapes = {"a": (5, 4), "b": (4,), "c": (3,)}
init = {k: torch.randn(*s, dtype=dt) for k, s in shapes.items()}
steps = 5
grads = [{k: torch.randn(*s, dtype=dt) for k, s in shapes.items()} for _ in range(steps)]
lrs = [0.01, 0.02, 0.015, 0.005, 0.03]


def run(make):
    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    opt = make(list(params.values()))
    after = []
    for s in range(steps):
        for g in opt.param_groups:
            g["lr"] = lrs[s]
        for k, p in params.items():
            p.grad = None if (s == 1 and k == "c") else grads[s][k].clone()
        opt.step()
        after.append({k: p.detach().reshape(-1).tolist() for k, p in params.items()})
    return after


out = {
    "shapes": shapes,
    "init": {k: v.reshape(-1).tolist() for k, v in init.items()},
    "grads": [{k: v.reshape(-1).tolist() for k, v in g.items()} for g in grads],
    "lrs": lrs,
    "skip": {"step": 1, "param": "c"},
    "adamw": {"betas": [0.9, 0.999], "eps": 1e-8, "wd": 0.1,
              "after": run(lambda ps: torch.optim.AdamW(ps, lr=lrs[0], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1))},
    "sgd": {"momentum": 0.9, "wd": 1e-4,
            "after": run(lambda ps: torch.optim.SGD(ps, lr=lrs[0], momentum=0.9, weight_decay=1e-4))},
    "torch": torch.__version__,
}
with open("testdata/golden/optim.json", "w") as f:
    json.dump(out, f)
print("ok")
