"""MoCo v3 in plain PyTorch, following facebookresearch/moco-v3.

This is the reference mocogo is compared against: the same model (ViT with
timm's parameter names, fixed 2D sin-cos position embedding, frozen random
patch projection, 3-layer projector and 2-layer predictor ending in BN
without affine), the same symmetric contrastive loss and the same momentum
update. It runs on PyTorch 1.13 (Debian, CPU) and on 2.x (GPU).

Written for mocogo from the paper and the official recipe; no code copied.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def sincos_pos_embed(grid, dim, temperature=10000.0):
    """Fixed 2D sin-cos embedding, cls slot zeros, shape (1, 1+grid*grid, dim)."""
    assert dim % 4 == 0
    gh, gw = torch.meshgrid(torch.arange(grid, dtype=torch.float32),
                            torch.arange(grid, dtype=torch.float32), indexing="ij")
    pos_dim = dim // 4
    omega = torch.arange(pos_dim, dtype=torch.float32) / pos_dim
    omega = 1.0 / (temperature ** omega)
    out_h = torch.einsum("m,d->md", gh.flatten(), omega)
    out_w = torch.einsum("m,d->md", gw.flatten(), omega)
    emb = torch.cat([torch.sin(out_h), torch.cos(out_h), torch.sin(out_w), torch.cos(out_w)], dim=1)
    return torch.cat([torch.zeros(1, dim), emb], dim=0)[None]


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if hasattr(F, "scaled_dot_product_attention"):
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            attn = (q @ k.transpose(-2, -1)) * self.scale
            x = attn.softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, img, patch, chans, dim):
        super().__init__()
        self.grid = img // patch
        self.proj = nn.Conv2d(chans, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class ViT(nn.Module):
    """The MoCo v3 ViT with timm's parameter names; `head` is replaced later."""

    def __init__(self, img=224, patch=16, dim=384, depth=12, heads=12, chans=3, stop_grad_conv1=True):
        super().__init__()
        self.embed_dim = dim
        self.patch_embed = PatchEmbed(img, patch, chans, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(sincos_pos_embed(self.patch_embed.grid, dim), requires_grad=False)
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Identity()
        self._init(stop_grad_conv1)

    def _init(self, stop_grad_conv1):
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear):
                if "qkv" in name:
                    val = math.sqrt(6.0 / float(m.weight.shape[0] // 3 + m.weight.shape[1]))
                    nn.init.uniform_(m.weight, -val, val)
                else:
                    nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.cls_token, std=1e-6)
        p = self.patch_embed.proj
        val = math.sqrt(6.0 / float(3 * p.kernel_size[0] * p.kernel_size[1] + self.embed_dim))
        nn.init.uniform_(p.weight, -val, val)
        nn.init.zeros_(p.bias)
        if stop_grad_conv1:
            p.weight.requires_grad = False
            p.bias.requires_grad = False

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def build_mlp(num_layers, input_dim, mlp_dim, output_dim, last_bn=True):
    layers = []
    for l in range(num_layers):
        dim1 = input_dim if l == 0 else mlp_dim
        dim2 = output_dim if l == num_layers - 1 else mlp_dim
        layers.append(nn.Linear(dim1, dim2, bias=False))
        if l < num_layers - 1:
            layers.append(nn.BatchNorm1d(dim2))
            layers.append(nn.ReLU(inplace=True))
        elif last_bn:
            layers.append(nn.BatchNorm1d(dim2, affine=False))
    return nn.Sequential(*layers)


class MoCoV3(nn.Module):
    def __init__(self, vit_kwargs, dim=256, mlp_dim=4096, T=0.2):
        super().__init__()
        self.T = T
        self.base_encoder = ViT(**vit_kwargs)
        self.momentum_encoder = ViT(**vit_kwargs)
        hidden = self.base_encoder.embed_dim
        self.base_encoder.head = build_mlp(3, hidden, mlp_dim, dim)
        self.momentum_encoder.head = build_mlp(3, hidden, mlp_dim, dim)
        self.predictor = build_mlp(2, dim, mlp_dim, dim, last_bn=True)
        for pb, pm in zip(self.base_encoder.parameters(), self.momentum_encoder.parameters()):
            pm.data.copy_(pb.data)
            pm.requires_grad = False

    @torch.no_grad()
    def update_momentum_encoder(self, m):
        for pb, pm in zip(self.base_encoder.parameters(), self.momentum_encoder.parameters()):
            pm.data = pm.data * m + pb.data * (1.0 - m)

    def contrastive_loss(self, q, k):
        q = F.normalize(q, dim=1)
        k = F.normalize(k, dim=1)
        logits = torch.einsum("nc,mc->nm", q, k) / self.T
        labels = torch.arange(logits.shape[0], dtype=torch.long, device=logits.device)
        return F.cross_entropy(logits, labels) * (2 * self.T)

    def forward(self, x1, x2, m):
        q1 = self.predictor(self.base_encoder(x1))
        q2 = self.predictor(self.base_encoder(x2))
        with torch.no_grad():
            self.update_momentum_encoder(m)
            k1 = self.momentum_encoder(x1)
            k2 = self.momentum_encoder(x2)
        return self.contrastive_loss(q1, k2) + self.contrastive_loss(q2, k1)


PRESETS = {
    "vit_small": dict(dim=384, depth=12, heads=12),
    "vit_base": dict(dim=768, depth=12, heads=12),
    "vit_tiny": dict(dim=192, depth=12, heads=3),
}
