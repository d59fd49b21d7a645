"""Train the melody network and export it to ONNX: ``midi-assistant train``.

Runs unchanged on the CPU, on one GPU, and on several GPUs or machines when
launched with ``torchrun`` (DistributedDataParallel: each rank takes its share of
every epoch's batches; rank 0 validates, checkpoints and exports)::

    midi-assistant train --preset small                       # CPU or one GPU
    torchrun --nproc-per-node 4 -m assistant.train.train_melody --preset medium

Data: the training and validation melodies of `assistant.train.corpus`, encoded
with `assistant.music.tokens`, transposed by a random interval (12 keys) every time a
melody is drawn. Early stopping on validation loss.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

from ..resources import MODELS_DIR

PRESETS = {
    # name: (d_model, layers, heads)
    "tiny": (64, 2, 4),
    "small": (128, 3, 4),
    "medium": (192, 4, 4),
    "large": (256, 4, 8),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=sorted(PRESETS), default="small", help="network size (default small)")
    p.add_argument("--d-model", type=int, help="override the preset's width")
    p.add_argument("--layers", type=int, help="override the preset's depth")
    p.add_argument("--heads", type=int, help="override the preset's head count")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--context", type=int, default=256, help="training crop length in tokens (default 256)")
    p.add_argument("--batch-tokens", type=int, default=8192, help="tokens per optimiser step, all ranks together")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--max-minutes", type=float, default=45.0, help="stop training after this long (wall clock)")
    p.add_argument("--patience", type=int, default=3, help="validations without improvement before stopping")
    p.add_argument("--max-steps", type=int, help="stop after this many optimiser steps (quick checks)")
    p.add_argument("--evals-per-epoch", type=int, default=2)
    p.add_argument("--limit", type=int, help="use only the first N training melodies (quick checks)")
    p.add_argument("--oversample", action="append", default=[], metavar="COLLECTION=K",
                   help="draw the melodies of a training collection K times per epoch (e.g. bach=8)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all cores)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    p.add_argument("--out", default=str(MODELS_DIR / "melody.onnx"), help="ONNX file to write")
    p.add_argument("--no-export", action="store_true", help="train only; keep the checkpoint")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0,
                   help="save the run's state this often; the same command resumes it (default 5)")
    p.add_argument("--stop-after-minutes", type=float,
                   help="this invocation stops after this long, saves its state and exits with code 3; "
                        "the same command resumes it")
    p.add_argument("--init-from", metavar="MODEL.onnx",
                   help="start from the weights of this melody model (its size comes from the file; the size "
                        "options must agree or be left out): a second training cycle on top of a shipped model")
    p.add_argument("--fresh", action="store_true", help="ignore a saved state of these settings and start afresh")
    p.add_argument("--quantize", action="store_true", help="also write an int8 variant beside --out")


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


class TokenData:
    """Encoded melodies held as numpy arrays; draws padded, transposed batches."""

    def __init__(self, melodies, context: int):
        from ..music import tokens as T

        self.context = context
        self.items = []
        for m in melodies:
            if len(m.notes) < 2:
                continue
            e = T.encode(m)
            pitches = e.tokens[e.tokens >= T.PITCH_BASE] - T.PITCH_BASE
            self.items.append((e.tokens, e.positions, e.meters, int(pitches.min()), int(pitches.max())))
        self.n_tokens = sum(len(it[0]) for it in self.items)

    def batches(self, batch_tokens: int, rng: random.Random, augment: bool, world: int = 1, rank: int = 0):
        """Yield dicts of int64 arrays [B, L]; melodies longer than the context are cropped at random."""
        from ..music import tokens as T

        order = list(range(len(self.items)))
        rng.shuffle(order)
        # bucket by length within chunks so that padding stays small
        chunk = 256
        groups = []
        for i in range(0, len(order), chunk):
            part = sorted(order[i:i + chunk], key=lambda j: len(self.items[j][0]))
            cur, cur_len = [], 0
            for j in part:
                length = min(len(self.items[j][0]), self.context + 1)
                if cur and (len(cur) + 1) * max(cur_len, length) > batch_tokens:
                    groups.append(cur)
                    cur, cur_len = [], 0
                cur.append(j)
                cur_len = max(cur_len, length)
            if cur:
                groups.append(cur)
        rng.shuffle(groups)
        usable = len(groups) - len(groups) % world if world > 1 else len(groups)
        for g in groups[rank:usable:world]:
            seqs = []
            for j in g:
                toks, pos, met, lo, hi = self.items[j]
                if len(toks) > self.context + 1:
                    s = rng.randrange(0, len(toks) - self.context)
                    toks, pos, met = toks[s:s + self.context + 1], pos[s:s + self.context + 1], met[s:s + self.context + 1]
                if augment:
                    shift = rng.randint(-6, 5)
                    if lo + shift < 0 or hi + shift > 127:
                        shift = 0
                    if shift:
                        toks = T.transpose_tokens(toks, shift)
                seqs.append((toks, pos, met))
            width = max(len(s[0]) for s in seqs)
            out = {k: np.zeros((len(seqs), width), dtype=np.int64) for k in ("tokens", "positions", "meters")}
            for r, (toks, pos, met) in enumerate(seqs):
                out["tokens"][r, :len(toks)] = toks
                out["positions"][r, :len(toks)] = pos
                out["meters"][r, :len(toks)] = met
            yield out


def oversampled(melodies, specs: list[str]):
    """Repeat the melodies of the collections named in ``COLLECTION=K`` specs K times in all."""
    from ..errors import UserError

    factors = {}
    for spec in specs:
        name, _, k = spec.partition("=")
        if not k.isdigit() or int(k) < 1:
            raise UserError(f"--oversample {spec!r}: write COLLECTION=K with K a whole number >= 1, e.g. bach=8")
        factors[name] = int(k)
    known = {m.collection for m in melodies}
    unknown = sorted(set(factors) - known)
    if unknown:
        raise UserError(f"--oversample: no training collection named {', '.join(unknown)}; "
                        f"collections are {', '.join(sorted(known))}")
    return [m for m in melodies for _ in range(factors.get(m.collection, 1))]


def evaluate_loss(net, data: TokenData, device, batch_tokens: int) -> dict:
    """Validation: mean nats per token, and bits per note split into pitch and rhythm."""
    import torch

    from ..music import tokens as T
    from .melody_net import token_loss

    net.eval()
    total = {"nats": 0.0, "tokens": 0, "pitch_bits": 0.0, "rhythm_bits": 0.0, "notes": 0}
    with torch.no_grad():
        for batch in data.batches(batch_tokens, random.Random(0), augment=False):
            tb = {k: torch.from_numpy(v).to(device) for k, v in batch.items()}
            _, per_token = token_loss(net, tb)
            target = tb["tokens"][:, 1:]
            is_pitch = target >= T.PITCH_BASE
            is_rhythm = (target >= T.REST_BASE) & ~is_pitch
            total["nats"] += float(per_token.sum())
            total["tokens"] += int((target != T.PAD).sum())
            total["pitch_bits"] += float(per_token[is_pitch].sum()) / math.log(2)
            total["rhythm_bits"] += float(per_token[is_rhythm].sum()) / math.log(2)
            total["notes"] += int(is_pitch.sum())
    net.train()
    notes = max(1, total["notes"])
    return {
        "loss": total["nats"] / max(1, total["tokens"]),
        "pitch_bits_per_note": total["pitch_bits"] / notes,
        "joint_bits_per_note": (total["pitch_bits"] + total["rhythm_bits"]) / notes,
    }


def base_record(path: Path) -> dict:
    """What a run started from (``--init-from``): the file, its sha256, and the training
    record beside it (``<name>.train.json``: its command, steps, time, best validation),
    so that a card can give both cycles' commands."""
    from ..live.model_file import sha256_of

    record: dict = {"file": str(path), "sha256": sha256_of(path)}
    beside = path.with_suffix(".train.json")
    if beside.is_file():
        base = json.loads(beside.read_text())
        record["training"] = {k: base.get(k) for k in ("command", "steps", "seconds", "device", "best_valid",
                                                       "init_from")}
    return record


def _initial_weights(args, cfg):
    """(configuration, state dict) of the model ``args.init_from``: its width, depth and heads,
    this run's dropout and context. A size option that disagrees with the file is a UserError."""
    from dataclasses import replace

    from ..errors import UserError
    from .onnx_weights import load_melody_net

    path = Path(args.init_from)
    if not path.is_file():
        raise UserError(f"train --init-from: {path} does not exist; give a melody model file (.onnx)")
    try:
        base = load_melody_net(path)
    except (ValueError, OSError) as err:
        raise UserError(f"train --init-from: {path} is not a melody model of ours ({err})") from None
    for option, ours, theirs in (("--d-model", args.d_model, base.cfg.d_model), ("--layers", args.layers, base.cfg.n_layers),
                                 ("--heads", args.heads, base.cfg.n_heads)):
        if ours is not None and ours != theirs:
            raise UserError(f"train --init-from: {path} has {option} {theirs}, not {ours}; leave {option} out")
    cfg = replace(base.cfg, dropout=cfg.dropout, max_context=cfg.max_context)
    return cfg, base.state_dict()


def run(args, corpus=None) -> int:
    """Train as ``args`` say; ``corpus`` (a `Corpus`) replaces the cached one (tests)."""
    try:
        import torch
    except ImportError:
        from ..errors import UserError

        raise UserError("training needs PyTorch: pip install -e '.[train]'")
    from . import checkpoint
    from .corpus import default_cache_dir, load_corpus
    from .melody_net import MelodyNet, NetConfig, token_loss

    world, rank, local = _dist_info()
    if world > 1:
        import torch.distributed as dist

        backend = "nccl" if torch.cuda.is_available() and args.device != "cpu" else "gloo"
        dist.init_process_group(backend)
    if args.device == "auto":
        device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device if args.device != "cuda" else f"cuda:{local}")
    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(args.seed + rank)
    torch.manual_seed(args.seed)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if rank == 0 else (lambda *a: None)

    corpus = corpus if corpus is not None else load_corpus(progress=rank == 0)
    train_melodies = corpus.train[: args.limit] if args.limit else corpus.train
    train_melodies = oversampled(train_melodies, args.oversample)
    valid_melodies = corpus.valid[: max(8, args.limit // 10)] if args.limit else corpus.valid
    train = TokenData(train_melodies, args.context)
    valid = TokenData(valid_melodies, args.context)
    log(f"train: {len(train.items)} melodies, {train.n_tokens} tokens; valid: {len(valid.items)} melodies, "
        f"{valid.n_tokens} tokens")

    d, layers, heads = PRESETS[args.preset]
    cfg = NetConfig(d_model=args.d_model or d, n_layers=args.layers or layers, n_heads=args.heads or heads,
                    dropout=args.dropout, max_context=max(args.context, 512))
    initial = _initial_weights(args, cfg) if args.init_from else None
    if initial is not None:
        cfg, state = initial
    net = MelodyNet(cfg).to(device)
    if initial is not None:
        net.load_state_dict(state)
        log(f"starting from the weights of {args.init_from}")
    log(f"model: {cfg.to_dict()}, {net.n_params():,} parameters, device {device}, world {world}")
    model = net
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net, device_ids=[local] if device.type == "cuda" else None)

    decay = [p for n, p in net.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in net.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98))
    per_rank_tokens = max(512, args.batch_tokens // world)
    steps_per_epoch = max(1, sum(1 for _ in train.batches(per_rank_tokens, random.Random(0), False, world, rank)))
    total_steps = steps_per_epoch * args.epochs
    warmup = min(300, total_steps // 10 + 1)

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    eval_every = max(1, steps_per_epoch // args.evals_per_epoch)
    best, best_state, bad_evals, step = float("inf"), None, 0, 0
    history = []
    first_epoch, skip_batches, spent = 0, 0, 0.0
    ckpt_path = checkpoint.checkpoint_path(args, default_cache_dir())
    saved = None if args.fresh or world > 1 else checkpoint.load(ckpt_path)
    if saved is not None:
        net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
        best, best_state, bad_evals, step = saved["best"], saved["best_state"], saved["bad_evals"], saved["step"]
        history, first_epoch, skip_batches, spent = (saved["history"], saved["epoch"], saved["batch_in_epoch"],
                                                     saved["seconds"])
        log(f"resuming {ckpt_path}: step {step}, epoch {first_epoch}, {spent / 60:.1f} minutes trained")

    def save_checkpoint(epoch: int, batch_in_epoch: int) -> None:
        checkpoint.save(ckpt_path, {
            "net": net.state_dict(), "optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state(),
            "best": best, "best_state": best_state, "bad_evals": bad_evals, "step": step,
            "history": history, "epoch": epoch, "batch_in_epoch": batch_in_epoch,
            "seconds": spent + time.monotonic() - started, "config": cfg.to_dict(),
        })

    interrupted = _InterruptFlag(install=rank == 0 and world == 1)
    started = invocation_started = last_saved = time.monotonic()
    stop = paused = False
    try:
        for epoch in range(first_epoch, args.epochs):
            rng = random.Random(args.seed * 1000 + epoch)
            batches = train.batches(per_rank_tokens, rng, augment=True, world=world, rank=rank)
            done_in_epoch = 0
            if epoch == first_epoch and skip_batches:
                for _ in range(skip_batches):  # the same draws as the run that saved, without training
                    next(batches, None)
                done_in_epoch = skip_batches
            for batch in batches:
                for g in opt.param_groups:
                    g["lr"] = lr_at(step)
                tb = {k: torch.from_numpy(v).to(device) for k, v in batch.items()}
                loss, _ = token_loss(model, tb)  # through the DDP wrapper when distributed
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                step += 1
                done_in_epoch += 1
                if step % 50 == 0:
                    log(f"epoch {epoch} step {step}/{total_steps} loss {float(loss):.4f} "
                        f"lr {lr_at(step):.2e} {time.monotonic() - started:.0f}s")
                if step % eval_every == 0:
                    metrics = _evaluate_on_rank0(net, valid, device, per_rank_tokens, rank, world)
                    elapsed = spent + time.monotonic() - started
                    history.append({"step": step, "epoch": epoch, "seconds": round(elapsed, 1), **metrics})
                    log(f"  valid {json.dumps(metrics)}")
                    if metrics["loss"] < best - 1e-4:  # same loss on every rank: same decision
                        best, bad_evals = metrics["loss"], 0
                        best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
                    else:
                        bad_evals += 1
                    if bad_evals >= args.patience or elapsed > args.max_minutes * 60:
                        stop = True
                        break
                if args.max_steps and step >= args.max_steps:
                    if best_state is None:  # no validation yet: validate and keep what there is
                        metrics = _evaluate_on_rank0(net, valid, device, per_rank_tokens, rank, world)
                        history.append({"step": step, "epoch": epoch, **metrics})
                        best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
                    stop = True
                    break
                if rank == 0 and world == 1:
                    now = time.monotonic()
                    out_of_time = (args.stop_after_minutes is not None
                                   and now - invocation_started > args.stop_after_minutes * 60)
                    if interrupted.raised or out_of_time:
                        save_checkpoint(epoch, done_in_epoch)
                        paused = True
                        break
                    if now - last_saved > args.checkpoint_minutes * 60:
                        save_checkpoint(epoch, done_in_epoch)
                        last_saved = now
            if stop or paused:
                break
    finally:
        interrupted.restore()  # also when training fails
    if paused:
        log(f"train: stopped at step {step} and saved {ckpt_path}; run the same command to go on")
        return 3

    if rank == 0:
        if best_state is not None:
            net.load_state_dict(best_state)
        net.to("cpu").eval()
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        ckpt = out.with_suffix(".pt")
        torch.save({"config": cfg.to_dict(), "state_dict": net.state_dict()}, ckpt)
        info = {
            "command": "midi-assistant train " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["train"] else " ".join(sys.argv),
            "config": cfg.to_dict(),
            "parameters": net.n_params(),
            "train_melodies": len(train.items), "train_tokens": train.n_tokens,
            "valid_melodies": len(valid.items), "valid_tokens": valid.n_tokens,
            "best_valid": min(history, key=lambda h: h["loss"]) if history else None,
            "history": history, "steps": step, "seconds": round(spent + time.monotonic() - started, 1),
            "device": str(device), "world_size": world, "seed": args.seed,
            "lr": args.lr, "context": args.context, "batch_tokens": args.batch_tokens,
            "oversample": args.oversample,
            "corpus_report": corpus.report,
            "torch": torch.__version__,
        }
        if args.init_from:
            info["init_from"] = base_record(Path(args.init_from))
        if not args.no_export:
            from .export import export_melody

            written = export_melody(net, out, quantize=args.quantize)
            info["files"] = [str(p) for p in written]
            log(f"exported {', '.join(info['files'])}")
        out.with_suffix(".train.json").write_text(json.dumps(info, indent=2) + "\n")
        log(f"training info: {out.with_suffix('.train.json')}")
        ckpt_path.unlink(missing_ok=True)  # finished: the same command trains afresh
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return 0


class _InterruptFlag:
    """SIGTERM and SIGINT raise a flag instead of killing: the loop saves its state after the step.

    Installed only on the main thread (signals can be handled nowhere else); `restore`
    puts the previous handlers back.
    """

    def __init__(self, install: bool = True):
        import signal
        import threading

        self.raised = False
        self._previous = {}
        if install and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._raise)

    def _raise(self, signum, frame) -> None:
        self.raised = True

    def restore(self) -> None:
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


def _evaluate_on_rank0(net, valid, device, batch_tokens, rank, world):
    """Rank 0 validates; the loss is broadcast so every rank takes the same early-stop decision."""
    metrics = evaluate_loss(net, valid, device, batch_tokens) if rank == 0 else {"loss": 0.0}
    if world > 1:
        import torch
        import torch.distributed as dist

        t = torch.tensor([metrics["loss"]], device=device)
        dist.broadcast(t, 0)
        metrics["loss"] = float(t)
    return metrics


def main() -> int:
    parser = argparse.ArgumentParser(prog="assistant.train.train_melody", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
