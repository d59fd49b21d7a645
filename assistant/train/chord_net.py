"""The chord network (PyTorch, training only): a small GRU over beats.

Input per step: the previous beat's chord (embedding; ``BOS_CHORD`` at the first
beat) and the melody features of ``assistant.chord_model``; output: logits over the
chord vocabulary for this beat. ``forward`` runs whole sequences with ``nn.GRU``
(fast to train); ``step`` is the same network written out for one step from an
explicit state, which is what is exported to ONNX. Both share the weights, and a
test checks that stepping equals the full forward.

Main thread of the training command only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..chord_model import FEATURE_SIZE
from ..harmony import CHORD_VOCAB_SIZE


@dataclass
class ChordNetConfig:
    hidden: int = 192
    layers: int = 2
    embed: int = 32
    dropout: float = 0.2
    features: int = FEATURE_SIZE
    vocab: int = CHORD_VOCAB_SIZE
    history: bool = True  # False: the previous chord is not an input (always BOS_CHORD)

    def to_dict(self) -> dict:
        return asdict(self)


class ChordNet(nn.Module):
    def __init__(self, cfg: ChordNetConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab + 1, cfg.embed)
        self.inp = nn.Linear(cfg.embed + cfg.features, cfg.hidden)
        self.gru = nn.GRU(cfg.hidden, cfg.hidden, num_layers=cfg.layers, batch_first=True,
                          dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.hidden, cfg.vocab)

    def _input(self, prev: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.inp(torch.cat([self.embed(prev), feats], dim=-1)))

    def forward(self, prev: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, V] for ``prev`` [B, T] and ``feats`` [B, T, F] (teacher forcing)."""
        x = self.drop(self._input(prev, feats))
        y, _ = self.gru(x)
        return self.out(self.drop(y))

    def step(self, prev: torch.Tensor, feats: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One beat: ``prev`` [B], ``feats`` [B, F], ``state`` [L, B, H] -> (logits [B, V], state)."""
        x = self._input(prev, feats)
        new = []
        for layer in range(self.cfg.layers):
            h = state[layer]
            w_ih = getattr(self.gru, f"weight_ih_l{layer}")
            w_hh = getattr(self.gru, f"weight_hh_l{layer}")
            b_ih = getattr(self.gru, f"bias_ih_l{layer}")
            b_hh = getattr(self.gru, f"bias_hh_l{layer}")
            gi = x @ w_ih.t() + b_ih
            gh = h @ w_hh.t() + b_hh
            i_r, i_z, i_n = gi.chunk(3, dim=-1)
            h_r, h_z, h_n = gh.chunk(3, dim=-1)
            r = torch.sigmoid(i_r + h_r)
            z = torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h = (1 - z) * n + z * h
            new.append(h)
            x = h
        return self.out(x), torch.stack(new)


class _StepModule(nn.Module):
    def __init__(self, net: ChordNet):
        super().__init__()
        self.net = net

    def forward(self, previous, features, state):
        return self.net.step(previous, features, state)


def export_chord_net(net: ChordNet, out) -> None:
    """Write the single-step graph: inputs ``previous`` [B] int64, ``features`` [B, F],
    ``state`` [L, B, H]; outputs ``logits`` [B, V], ``new_state``. Config in the metadata."""
    import json
    from pathlib import Path

    import onnx

    net = net.to("cpu").eval()
    cfg = net.cfg
    b = 2
    example = (torch.zeros(b, dtype=torch.int64), torch.zeros(b, cfg.features),
               torch.zeros(cfg.layers, b, cfg.hidden))
    batch = torch.export.Dim("batch", min=1, max=1024)
    out = Path(out)
    tmp = out.with_suffix(".tmp.onnx")
    torch.onnx.export(_StepModule(net), example, str(tmp), input_names=["previous", "features", "state"],
                      output_names=["logits", "new_state"],
                      dynamic_shapes={"previous": {0: batch}, "features": {0: batch}, "state": {1: batch}},
                      dynamo=True, external_data=False)
    model = onnx.load(str(tmp))
    tmp.unlink()
    del model.metadata_props[:]
    for node in model.graph.node:  # the exporter's source locations: the file must depend on the weights only
        del node.metadata_props[:]
    for k, v in {"config": json.dumps(cfg.to_dict()), "vocabulary": "assistant.harmony v1",
                 "features": "assistant.chord_model v1"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(model, str(out))
