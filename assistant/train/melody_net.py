"""The melody network in PyTorch: a small causal transformer over `assistant.music.tokens`.

Attention uses ALiBi (a linear distance penalty per head) instead of position
embeddings, so cached keys and values carry no absolute position: the run time can
drop the oldest cache entries of a long session (a sliding window) without
recomputing anything. Bar position and meter enter as input embeddings added to
the token embedding.

One forward signature serves training (no cache) and the exported incremental
step (cache in, cache out), so that what is exported is exactly what was trained.
Used only by training and export; the run time never imports torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..music import tokens as T


@dataclass
class NetConfig:
    d_model: int = 128
    n_layers: int = 3
    n_heads: int = 4
    ff_mult: int = 4
    dropout: float = 0.1
    max_context: int = 512

    def to_dict(self) -> dict:
        return asdict(self)


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Geometric slopes 2^(-8/n), 2^(-16/n), ... as in the ALiBi paper (n a power of two)."""
    return torch.tensor([2.0 ** (-8.0 * (i + 1) / n_heads) for i in range(n_heads)])


class Block(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.d_head = cfg.d_model // cfg.n_heads
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.ff = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.ff_mult * cfg.d_model),
            nn.GELU(),
            nn.Linear(cfg.ff_mult * cfg.d_model, cfg.d_model),
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, bias, past_k, past_v):
        """x: [B, T, D]; bias: [H, T, P+T]; past_k/v: [B, H, P, Dh]. Returns x, k, v."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        shape = (b, t, self.n_heads, self.d_head)
        q = q.reshape(shape).transpose(1, 2)
        k = torch.cat([past_k, k.reshape(shape).transpose(1, 2)], dim=2)
        v = torch.cat([past_v, v.reshape(shape).transpose(1, 2)], dim=2)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.d_head)) + bias
        att = self.drop(torch.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(self.proj(y))
        x = x + self.drop(self.ff(self.ln2(x)))
        return x, k, v


class MelodyNet(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(T.VOCAB_SIZE, cfg.d_model)
        self.pos = nn.Embedding(T.POSITIONS, cfg.d_model)
        self.meter = nn.Embedding(T.METER_IDS, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, T.VOCAB_SIZE, bias=False)
        self.head.weight = self.tok.weight  # tied
        self.register_buffer("slopes", alibi_slopes(cfg.n_heads).view(-1, 1, 1), persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def attention_bias(self, t: int, past: int, device) -> torch.Tensor:
        """[H, t, past+t]: -slope * distance, and -inf on future keys."""
        q_pos = torch.arange(t, device=device).view(-1, 1) + past
        k_pos = torch.arange(past + t, device=device).view(1, -1)
        dist = (q_pos - k_pos).to(torch.float32)
        bias = -self.slopes * dist
        return bias.masked_fill(dist < 0, float("-inf"))

    def forward(self, tokens, positions, meters, past_keys=None, past_values=None):
        """tokens/positions/meters: [B, T] int64; past_*: [L, B, H, P, Dh] or None.

        Returns (logits [B, T, V], present_keys, present_values) with the caches
        grown by T.
        """
        b, t = tokens.shape
        cfg = self.cfg
        if past_keys is None:
            d_head = cfg.d_model // cfg.n_heads
            past_keys = tokens.new_zeros((cfg.n_layers, b, cfg.n_heads, 0, d_head), dtype=torch.float32)
            past_values = past_keys
        past = past_keys.shape[3]
        x = self.tok(tokens) + self.pos(positions) + self.meter(meters)
        bias = self.attention_bias(t, past, tokens.device)
        keys, values = [], []
        for i, block in enumerate(self.blocks):
            x, k, v = block(x, bias, past_keys[i], past_values[i])
            keys.append(k)
            values.append(v)
        logits = self.head(self.ln_f(x))
        return logits, torch.stack(keys), torch.stack(values)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def token_loss(net: MelodyNet, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy (nats) over real target tokens, and the per-token losses [B, T-1]."""
    logits, _, _ = net(batch["tokens"][:, :-1], batch["positions"][:, :-1], batch["meters"][:, :-1])
    target = batch["tokens"][:, 1:]
    per_token = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                reduction="none").view(target.shape)
    mask = target != T.PAD
    return (per_token * mask).sum() / mask.sum().clamp(min=1), per_token * mask
