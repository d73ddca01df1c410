"""Does pretrain's backbone.safetensors load into timm's ViT?

timm is not installed here, so this builds the same VisionTransformer in
plain PyTorch with timm's module names (scripts/torch/mocov3.py's ViT: the
keys of timm.create_model("vit_small_patch16_224", num_classes=0) —
cls_token, pos_embed, patch_embed.proj, blocks.N.{norm1, attn.qkv,
attn.proj, norm2, mlp.fc1, mlp.fc2}, norm), loads our file with
load_state_dict(strict=True) and writes the cls features of a few images.

Run from the repository root with Debian's torch, after the Go side wrote
the backbone (see cmd/pretrain/timm_test.go):
    MOCOGO_WRITE_TIMM_FIXTURE=1 go test ./cmd/pretrain -run TestWriteTimmFixture
    /usr/bin/python3 scripts/golden/timm_compat.py
Writes testdata/golden/timm_compat/features.safetensors (images, features)
and timm_keys.json (the state-dict keys and shapes of ViT-S/16 and ViT-B/16
at 224 px without a head), which TestTimmCompat checks against.

With timm installed, the same file loads the same way:
    m = timm.create_model("vit_small_patch16_224", pretrained=False,
                          num_classes=0, num_heads=12)   # MoCo v3's ViT-S
    m.load_state_dict(load_safetensors(path), strict=True)
(num_heads changes no shape; MoCo v3's ViT-S has 12 heads, DeiT's 6.)
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "torch"))
import mocov3  # noqa: E402
from vit import save  # noqa: E402

DIR = "testdata/golden/timm_compat"
DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16}


def load_safetensors(path):
    """A safetensors reader in a few lines (the package is not installed)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=DTYPES[h["dtype"]])
        out[name] = t.reshape(h["shape"]).clone()
    return out, meta


state, meta = load_safetensors(os.path.join(DIR, "backbone.safetensors"))
cfg = dict(img=int(meta["img_size"]), patch=int(meta["patch_size"]), dim=int(meta["embed_dim"]),
           depth=int(meta["depth"]), heads=int(meta["num_heads"]))
model = mocov3.ViT(**cfg)  # head is nn.Identity: no head keys, as num_classes=0
missing, unexpected = model.load_state_dict(state, strict=True)
assert not missing and not unexpected
model.eval()
torch.manual_seed(5)
images = torch.randn(4, 3, cfg["img"], cfg["img"])
with torch.no_grad():
    feats = model(images)
save(os.path.join(DIR, "features.safetensors"), {"images": images, "features": feats},
     metadata={"load_state_dict": "strict", "config": json.dumps(cfg)})

keys = {}
for name, (dim, heads) in {"vit_small_patch16_224": (384, 12), "vit_base_patch16_224": (768, 12)}.items():
    m = mocov3.ViT(img=224, patch=16, dim=dim, depth=12, heads=heads)
    keys[name] = [[k, list(v.shape)] for k, v in m.state_dict().items()]
with open(os.path.join(DIR, "timm_keys.json"), "w") as f:
    json.dump(keys, f, indent=0)
print("loaded %d tensors strictly; features %s" % (len(state), tuple(feats.shape)))
