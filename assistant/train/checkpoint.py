"""Resumable training: a run's whole state saved every few minutes, picked up by the same command.

Thread: the training loop's own (main) thread; saving blocks for a write and an fsync
(tens of milliseconds for a few-million-parameter network).

A checkpoint belongs to one set of training settings: `settings_key` hashes every
argument that changes what is trained (not where the result is written, nor how long
this invocation may run), so running the same command again resumes where it stopped
and a changed command starts afresh. Saved: network, optimiser, step, epoch and the
batch within it, the best state and validation history so far, the training seconds
spent, and torch's random state. The batches of an epoch are drawn from a generator
seeded by the epoch, so a resumed run skips the batches already trained and sees the
same data in the same order as a run that was never stopped.

Checkpoints live under ``~/.cache/midi-assistant/checkpoints/`` (or
``$MIDI_ASSISTANT_CACHE``): they are a machine's working state, not a product file.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

from ..userfiles import write_atomically

TRAINING_SETTINGS = ("preset", "d_model", "layers", "heads", "dropout", "context", "batch_tokens", "lr",
                     "weight_decay", "epochs", "patience", "max_steps", "evals_per_epoch", "limit",
                     "oversample", "seed")
"""The arguments of ``train`` that change what is trained; the rest (output path, threads,
time limits) may differ between the run that saved a checkpoint and the one that resumes it."""


def settings_key(args) -> str:
    """A short hash of the training settings of ``args`` (an argparse namespace); a run
    started from a model's weights (``--init-from``) is keyed by that file's sha256."""
    chosen = {name: getattr(args, name, None) for name in TRAINING_SETTINGS}
    init_from = getattr(args, "init_from", None)
    if init_from:
        chosen["init_from_sha256"] = hashlib.sha256(Path(init_from).read_bytes()).hexdigest()
    return hashlib.sha256(json.dumps(chosen, sort_keys=True).encode()).hexdigest()[:16]


def checkpoint_path(args, cache_dir: Path) -> Path:
    """Where the run of ``args`` keeps its checkpoint."""
    return Path(cache_dir) / "checkpoints" / f"melody-{settings_key(args)}.pt"


def save(path: Path, state: dict) -> None:
    """Write ``state`` (tensors and plain values) to ``path`` atomically."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomically(path, buffer.getvalue())


def load(path: Path) -> dict | None:
    """The state saved at ``path``, or None when there is none or it cannot be read (one line says so)."""
    import torch

    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - a damaged checkpoint means a fresh start, said once
        print(f"train: checkpoint {path} is unreadable ({err}); starting afresh", file=sys.stderr)
        return None
