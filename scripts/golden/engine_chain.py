"""Golden vectors for engine's chain-of-ops test, made with PyTorch.

Run from the repository root with Debian's torch:
    /usr/bin/python3 scripts/golden/engine_chain.py
It writes testdata/golden/engine_chain.json: the inputs, parameters, the
loss and the gradient of every input and parameter, in float64. The Go test
(engine/golden_test.go) reads that file; it never runs torch.

The chain is one pre-norm transformer block with timm's attention layout,
then a BatchNorm1d head and MoCo's contrastive loss on the cls tokens.
"""
import json

import torch
import torch.nn.functional as F

torch.manual_seed(0)
dt = torch.float64
B, N, D, H = 4, 5, 12, 3
HID, OUT = 24, 8
T = 0.2


def rand(*s, scale=1.0):
    return (torch.randn(*s, dtype=dt) * scale).requires_grad_(True)


x = rand(B, N, D)
p = {
    "ln1.w": rand(D, scale=0.5), "ln1.b": rand(D, scale=0.5),
    "qkv.w": rand(3 * D, D, scale=0.3), "qkv.b": rand(3 * D, scale=0.1),
    "proj.w": rand(D, D, scale=0.3), "proj.b": rand(D, scale=0.1),
    "ln2.w": rand(D, scale=0.5), "ln2.b": rand(D, scale=0.5),
    "fc1.w": rand(HID, D, scale=0.3), "fc1.b": rand(HID, scale=0.1),
    "fc2.w": rand(D, HID, scale=0.3), "fc2.b": rand(D, scale=0.1),
    "head.w": rand(OUT, D, scale=0.3), "bn.w": rand(OUT, scale=0.5), "bn.b": rand(OUT, scale=0.5),
}
k = torch.randn(B, OUT, dtype=dt)


def chain(x):
    h = F.layer_norm(x, (D,), p["ln1.w"], p["ln1.b"], 1e-6)
    qkv = F.linear(h, p["qkv.w"], p["qkv.b"]).reshape(B, N, 3, H, D // H).permute(2, 0, 3, 1, 4)
    q, kk, v = qkv[0], qkv[1], qkv[2]
    a = ((q @ kk.transpose(-2, -1)) * (D // H) ** -0.5).softmax(-1) @ v
    a = a.transpose(1, 2).reshape(B, N, D)
    x = x + F.linear(a, p["proj.w"], p["proj.b"])
    h = F.layer_norm(x, (D,), p["ln2.w"], p["ln2.b"], 1e-6)
    x = x + F.linear(F.gelu(F.linear(h, p["fc1.w"], p["fc1.b"])), p["fc2.w"], p["fc2.b"])
    cls = x[:, 0]
    z = F.batch_norm(F.linear(cls, p["head.w"]), None, None, p["bn.w"], p["bn.b"], training=True, eps=1e-5)
    z = F.relu(z)
    qn, kn = F.normalize(z, dim=1), F.normalize(k, dim=1)
    logits = qn @ kn.t() / T
    return F.cross_entropy(logits, torch.arange(B)) * 2 * T


loss = chain(x)
loss.backward()


def flat(t):
    return t.detach().reshape(-1).tolist()


out = {
    "dims": {"B": B, "N": N, "D": D, "H": H, "HID": HID, "OUT": OUT, "T": T},
    "x": flat(x), "k": flat(k), "loss": loss.item(), "grad.x": flat(x.grad),
    "torch": torch.__version__,
}
for name, t in p.items():
    out[name] = flat(t)
    out["grad." + name] = flat(t.grad)
with open("testdata/golden/engine_chain.json", "w") as f:
    json.dump(out, f)
print("loss", loss.item())
