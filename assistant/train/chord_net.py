"""The chord network (PyTorch, training only): a small GRU over beats.

Input per step: the previous beat's chord (embedding; ``BOS_CHORD`` at the first
beat) and the melody features of ``assistant.live.chord_model``; output: logits over the
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

from ..live.chord_model import FEATURE_SIZE
from ..music.harmony import CHORD_VOCAB_SIZE


@dataclass
class ChordNetConfig:
    hidden: int = 192
    layers: int = 2
    embed: int = 32
    dropout: float = 0.2
    features: int = FEATURE_SIZE
    vocab: int = CHORD_VOCAB_SIZE
    history: bool = True  # False: the previous chord is not an input (always BOS_CHORD)
    melody: bool = False  # True: a second head predicts the pitch classes of the beat's melody
    # True: that head reads its own one-layer GRU over the features only (not the chords, which
    # running free are the model's own choices); its state is one more layer of ``state``
    melody_tower: bool = False
    tower_to_chords: bool = False  # True: the chord logits also read the melody tower's state

    @property
    def state_layers(self) -> int:
        return self.layers + int(self.melody and self.melody_tower)

    def to_dict(self) -> dict:
        return asdict(self)


def _gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    gi = x @ w_ih.t() + b_ih
    gh = h @ w_hh.t() + b_hh
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


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
        # the melody head: logits over the 12 pitch classes of the melody frames of the beat
        # being predicted (trained on their frame shares; see train_harmony.melody_targets)
        self.melody_out = nn.Linear(cfg.hidden, 12) if cfg.melody else None
        self.tower = cfg.melody and cfg.melody_tower
        if self.tower:
            self.mel_inp = nn.Linear(cfg.features, cfg.hidden)
            self.mel_gru = nn.GRU(cfg.hidden, cfg.hidden, num_layers=1, batch_first=True)
        self.tower_out = nn.Linear(cfg.hidden, cfg.vocab, bias=False) if self.tower and cfg.tower_to_chords else None

    def _input(self, prev: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.inp(torch.cat([self.embed(prev), feats], dim=-1)))

    def forward(self, prev: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, V] for ``prev`` [B, T] and ``feats`` [B, T, F] (teacher forcing)."""
        return self.forward_heads(prev, feats)[0]

    def forward_heads(self, prev: torch.Tensor, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Chord logits [B, T, V] and melody logits [B, T, 12] (None without the melody head)."""
        x = self.drop(self._input(prev, feats))
        y, _ = self.gru(x)
        y = self.drop(y)
        if self.tower:
            ym, _ = self.mel_gru(self.drop(torch.relu(self.mel_inp(feats))))
            ym = self.drop(ym)
            chords = self.out(y) if self.tower_out is None else self.out(y) + self.tower_out(ym)
            return chords, self.melody_out(ym)
        return self.out(y), (self.melody_out(y) if self.melody_out is not None else None)

    def step(self, prev: torch.Tensor, feats: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One beat: ``prev`` [B], ``feats`` [B, F], ``state`` [L, B, H] -> (logits [B, V], state)."""
        x = self._input(prev, feats)
        new = []
        for layer in range(self.cfg.layers):
            g = self.gru
            h = _gru_cell(x, state[layer], getattr(g, f"weight_ih_l{layer}"), getattr(g, f"weight_hh_l{layer}"),
                          getattr(g, f"bias_ih_l{layer}"), getattr(g, f"bias_hh_l{layer}"))
            new.append(h)
            x = h
        logits = self.out(x)
        if self.tower:
            g = self.mel_gru
            hm = _gru_cell(torch.relu(self.mel_inp(feats)), state[self.cfg.layers], g.weight_ih_l0,
                           g.weight_hh_l0, g.bias_ih_l0, g.bias_hh_l0)
            new.append(hm)
            if self.tower_out is not None:
                logits = logits + self.tower_out(hm)
        return logits, torch.stack(new)

    def step_melody(self, state: torch.Tensor) -> torch.Tensor:
        """Melody log-probabilities [B, 12] from the state after a step (its last layer: the
        melody tower's, else the chord GRU's top layer)."""
        return torch.log_softmax(self.melody_out(state[-1]), dim=-1)


class _StepModule(nn.Module):
    def __init__(self, net: ChordNet):
        super().__init__()
        self.net = net

    def forward(self, previous, features, state):
        logits, new_state = self.net.step(previous, features, state)
        if self.net.melody_out is None:
            return logits, new_state
        return logits, new_state, self.net.step_melody(new_state)


def export_chord_net(net: ChordNet, out) -> None:
    """Write the single-step graph: inputs ``previous`` [B] int64, ``features`` [B, F],
    ``state`` [L, B, H] (L = ``cfg.state_layers``); outputs ``logits`` [B, V], ``new_state`` and, with the melody
    head, ``melody`` [B, 12] (log-probabilities). Config in the metadata."""
    import json
    from pathlib import Path

    import onnx

    net = net.to("cpu").eval()
    cfg = net.cfg
    b = 2
    example = (torch.zeros(b, dtype=torch.int64), torch.zeros(b, cfg.features),
               torch.zeros(cfg.state_layers, b, cfg.hidden))
    batch = torch.export.Dim("batch", min=1, max=1024)
    out = Path(out)
    tmp = out.with_suffix(".tmp.onnx")
    torch.onnx.export(_StepModule(net), example, str(tmp), input_names=["previous", "features", "state"],
                      output_names=["logits", "new_state"] + (["melody"] if cfg.melody else []),
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
