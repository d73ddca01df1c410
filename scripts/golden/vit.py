"""Golden vectors for package nn, made with PyTorch from scripts/torch/mocov3.py.

Run from the repository root with Debian's torch:
    /usr/bin/python3 scripts/golden/vit.py
It writes, into testdata/golden/ (the Go tests never run torch):
  vit_<tag>.safetensors      the ViT's state dict under timm's keys, float64
  vit_<tag>_out.safetensors  the input images, the loss weights r, the cls
                             features and the gradient of every trainable
                             parameter for loss = sum(features * r)
  mlp_head.safetensors       a 3-layer moco-v3 projector (build_mlp): its
                             weights, input, train-mode output, gradients,
                             running statistics after one step and the
                             eval-mode output and gradients
  pos_embed.safetensors      sincos_pos_embed for a few grids, float32
The safetensors files are written by a small encoder below (the Debian
image has no safetensors package), which also checks our Go reader against
a second, independent writer.
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "torch"))
import mocov3  # noqa: E402

OUT = "testdata/golden"
DTYPES = {torch.float64: "F64", torch.float32: "F32"}


def save(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def perturb(module, scale=0.02, skip=("pos_embed",)):
    """Moves every parameter off its init so biases and norms matter."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name not in skip:
                p.add_(torch.randn_like(p) * scale)


def vit_case(tag, img, patch, dim, depth, heads, batch=3):
    torch.manual_seed(sum(map(ord, tag)))
    model = mocov3.ViT(img=img, patch=patch, dim=dim, depth=depth, heads=heads, stop_grad_conv1=False).double()
    perturb(model)
    x = torch.randn(batch, 3, img, img, dtype=torch.float64)
    r = torch.randn(batch, dim, dtype=torch.float64)
    feat = model(x)
    loss = (feat * r).sum()
    loss.backward()
    save(f"{OUT}/vit_{tag}.safetensors", model.state_dict(),
         {"img": str(img), "patch": str(patch), "dim": str(dim), "depth": str(depth), "heads": str(heads)})
    out = {"input": x, "r": r, "features": feat, "loss": loss.reshape(1)}
    for name, p in model.named_parameters():
        if p.grad is not None:
            out["grad." + name] = p.grad
    save(f"{OUT}/vit_{tag}_out.safetensors", out)
    print(tag, "loss", loss.item(), "params", sum(p.numel() for p in model.parameters()))


def mlp_case():
    torch.manual_seed(7)
    mlp = mocov3.build_mlp(3, 48, 64, 32).double()
    perturb(mlp, scale=0.1)
    x = torch.randn(6, 48, dtype=torch.float64)
    r = torch.randn(6, 32, dtype=torch.float64)
    out = {"input": x, "r": r}
    state0 = {k: v.clone() for k, v in mlp.state_dict().items() if "num_batches" not in k}
    y = mlp(x)
    (y * r).sum().backward()
    out["train.output"] = y
    for name, p in mlp.named_parameters():
        out["train.grad." + name] = p.grad.clone()
    for k, v in mlp.state_dict().items():
        if "running" in k:
            out["train.after." + k] = v.clone()
    mlp.zero_grad(set_to_none=True)
    mlp.eval()
    x2 = torch.randn(5, 48, dtype=torch.float64, requires_grad=True)
    y2 = mlp(x2)
    (y2 * r[:5]).sum().backward()
    out["eval.input"] = x2
    out["eval.output"] = y2
    out["eval.grad.input"] = x2.grad
    for name, p in mlp.named_parameters():
        out["eval.grad." + name] = p.grad
    save(f"{OUT}/mlp_head.safetensors", {**{"w." + k: v for k, v in state0.items()}, **out})
    print("mlp", y.shape)


def pos_case():
    out = {}
    for grid, dim in [(4, 48), (8, 64), (14, 384)]:
        out[f"{grid}x{dim}"] = mocov3.sincos_pos_embed(grid, dim)
    save(f"{OUT}/pos_embed.safetensors", out)


if __name__ == "__main__":
    vit_case("p8d48", img=32, patch=8, dim=48, depth=2, heads=3)
    vit_case("p4d64", img=32, patch=4, dim=64, depth=2, heads=4)
    mlp_case()
    pos_case()
