"""Fine-tuning the shipped melody model on a few melodies: one mechanism for ``eval --cv``
(IDyOM's protocol: the other nine folds of a set) and ``adapt`` (a musician's own files).

The network starts from the weights of an exported ONNX file (``onnx_weights``), trains on
the given melodies with the base training's loss and batches (transposed into random keys),
and keeps the weights that score best on an inner validation share of those melodies,
the untouched start included: fine-tuning never leaves the model worse on what it was
allowed to see. Nothing else is looked at, so the held-out melodies stay unseen.

Training side (torch); runs on the caller's thread, which it occupies for minutes.
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..music import Melody


@dataclass
class FineTuneSettings:
    lr: float = 3e-4
    batch_tokens: int = 4096
    context: int = 256
    max_epochs: int = 30
    patience: int = 3  # validations without improvement before stopping
    max_minutes: float | None = None
    valid_share: float = 0.1  # inner validation: this share of the melodies (at least one)
    evals_per_epoch: int = 1
    seed: int = 0
    threads: int = 0  # torch CPU threads (0: torch's default)


def require_training_stack(command: str) -> None:
    """``UserError`` (one line, how to install) unless PyTorch and ONNX are importable."""
    import importlib.util

    from ..errors import UserError

    missing = [name for name in ("torch", "onnx") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"{command} needs the train extra ({', '.join(missing)} missing): "
                        "pip install 'midi-assistant[train]' (from a source checkout: pip install -e '.[train]')")


def inner_split(melodies: Sequence[Melody], share: float, seed: int,
                group: Callable[[Melody], str] | None = None) -> tuple[list[Melody], list[Melody]]:
    """(train, valid): a seeded share of the melodies for early stopping, the rest to learn.

    ``group`` keeps melodies of one group (a file) on the same side. With fewer than two
    groups there is nothing to hold out: everything trains and nothing validates.
    """
    key = group or (lambda m: m.id)
    groups = sorted({key(m) for m in melodies})
    if len(groups) < 2:
        return list(melodies), []
    rng = random.Random(seed)
    rng.shuffle(groups)
    held = set(groups[:max(1, round(share * len(groups)))])
    return [m for m in melodies if key(m) not in held], [m for m in melodies if key(m) in held]


def fine_tune(net, melodies: Sequence[Melody], settings: FineTuneSettings = FineTuneSettings(),
              valid: Sequence[Melody] | None = None,
              progress: Callable[[float, dict], None] | None = None) -> dict:
    """Train ``net`` (a MelodyNet, changed in place) on ``melodies``; returns the report.

    ``valid`` defaults to an inner split of ``melodies`` (``settings.valid_share``). The
    report: ``start`` and ``best`` validation metrics (nats per token, bits per note), the
    steps and seconds taken, and ``stopped`` (why). ``progress(fraction, metrics)`` is
    called after each validation (fraction of the step or time budget used).
    """
    import torch

    from .melody_net import token_loss
    from .train_melody import TokenData, evaluate_loss

    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    if valid is None:
        melodies, valid = inner_split(melodies, settings.valid_share, settings.seed)
    train = TokenData(melodies, settings.context)
    if not train.items:
        raise ValueError("no melody of two or more notes to fine-tune on")
    held = TokenData(valid, settings.context) if valid else None
    device = torch.device("cpu")
    net.to(device).train()

    def measure() -> dict:
        return evaluate_loss(net, held, device, settings.batch_tokens) if held and held.items else {}

    start = measure()
    best, best_state = start.get("loss", float("inf")), _copy(net)
    best_metrics = start
    opt = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=0.01, betas=(0.9, 0.98))
    steps_per_epoch = max(1, sum(1 for _ in train.batches(settings.batch_tokens, random.Random(0), False)))
    eval_every = max(1, steps_per_epoch // max(1, settings.evals_per_epoch))
    total = steps_per_epoch * settings.max_epochs
    warmup = min(20, total // 10 + 1)
    started = time.monotonic()
    step, bad, stopped = 0, 0, "epochs"

    def out_of_time() -> bool:
        return settings.max_minutes is not None and time.monotonic() - started > settings.max_minutes * 60

    for _epoch in range(settings.max_epochs):
        for batch in train.batches(settings.batch_tokens, rng, augment=True):
            for g in opt.param_groups:
                g["lr"] = settings.lr * min(1.0, (step + 1) / warmup)
            loss, _ = token_loss(net, {k: torch.from_numpy(v) for k, v in batch.items()})
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            step += 1
            if step % eval_every == 0 or out_of_time():
                metrics = measure()
                if not metrics:  # nothing held out: the last weights are the result
                    best_state, best_metrics = _copy(net), {"train_loss": float(loss)}
                elif metrics["loss"] < best - 1e-4:
                    best, best_state, best_metrics, bad = metrics["loss"], _copy(net), metrics, 0
                else:
                    bad += 1
                if progress is not None:
                    used = step / total
                    if settings.max_minutes:
                        used = max(used, (time.monotonic() - started) / (settings.max_minutes * 60))
                    progress(min(1.0, used), metrics)
                if bad >= settings.patience:
                    stopped = "patience"
                    break
                if out_of_time():
                    stopped = "time"
                    break
        else:
            continue
        break
    net.load_state_dict(best_state)
    net.eval()
    return {"start": start, "best": best_metrics, "steps": step,
            "seconds": round(time.monotonic() - started, 1), "stopped": stopped,
            "train_melodies": len(train.items), "valid_melodies": len(held.items) if held else 0,
            "lr": settings.lr, "batch_tokens": settings.batch_tokens}


def _copy(net) -> dict:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def fine_tuned_model(base: Path, melodies: Sequence[Melody], out: Path,
                     settings: FineTuneSettings = FineTuneSettings(), valid: Sequence[Melody] | None = None,
                     progress: Callable[[float, dict], None] | None = None) -> dict:
    """Fine-tune the model in ONNX file ``base`` on ``melodies`` and export it to ``out``."""
    from .export import export_melody
    from .onnx_weights import load_melody_net

    net = load_melody_net(base)
    report = fine_tune(net, melodies, settings, valid=valid, progress=progress)
    with contextlib.redirect_stdout(sys.stderr):  # the exporter's progress lines: stdout is the commands' JSON
        export_melody(net, Path(out))
    return report
