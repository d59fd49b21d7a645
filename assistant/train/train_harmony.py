"""Train the chord model on the chord corpus and export it to ONNX.

``midi-assistant train-harmony`` (train extra): reads ``chord_corpus.load_chord_corpus``
(extracted and cached on first use), trains ``ChordNet`` with teacher forcing and
transposition over all 12 keys (every sequence drawn in a random key each time),
keeps the weights with the best validation loss (in the written key, no
augmentation), and writes ``--out`` plus ``<out stem>.train.json`` (settings,
data counts, losses, seconds). Deterministic for a seed on one machine.

Main thread only; torch uses ``--threads`` CPU threads (or one GPU with ``--device``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from ..live.chord_model import AHEAD, BOS_CHORD, FEATURE_SIZE, piece_inputs, transpose_features
from ..music.harmony import CHORD_VOCAB_SIZE, transpose_chord
from ..resources import MODELS_DIR

IGNORE = -100


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hidden", type=int, default=192, help="GRU width (default 192)")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--batch", type=int, default=32, help="sequences per optimiser step")
    p.add_argument("--crop", type=int, default=192, help="longest training sequence in beats")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--no-history", action="store_true",
                   help="do not give the model the previous chord: it then hears only the melody, and "
                        "running free it cannot feed on its own mistakes")
    p.add_argument("--noise", type=float, default=0.3,
                   help="share of previous-chord inputs replaced in training (robust free running)")
    p.add_argument("--ahead", type=float, default=0.5,
                   help="share of training beats that see the beat's melody note in advance (default 0.5)")
    p.add_argument("--melody-weight", type=float, default=0.0,
                   help="weight of the melody head's loss (it predicts the pitch classes of the beat's melody "
                        "frames, which the chord choice uses); 0: no melody head (default)")
    p.add_argument("--melody-tower", action="store_true",
                   help="the melody head reads its own GRU over the melody features only, not the chords")
    p.add_argument("--tower-to-chords", action="store_true",
                   help="with --melody-tower: the chord logits also read the melody tower's state")
    p.add_argument("--own-history", type=float, default=0.0,
                   help="share of training sequences whose previous-chord inputs are the chords the model "
                        "itself chose running free over the piece (recomputed every epoch, from epoch 2)")
    p.add_argument("--patience", type=int, default=8, help="epochs without a better validation loss before stopping")
    p.add_argument("--max-minutes", type=float, default=30.0)
    p.add_argument("--limit", type=int, help="use only the first N training pieces (quick checks)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all cores)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--cache-dir", default=None, help="corpus cache folder")
    p.add_argument("--workers", type=int, default=None, help="corpus extraction processes")
    p.add_argument("--out", default=str(MODELS_DIR / "harmony.onnx"), help="ONNX file to write")


_TRANSPOSE = np.array([[transpose_chord(c, s) if c < CHORD_VOCAB_SIZE else BOS_CHORD
                        for c in range(CHORD_VOCAB_SIZE + 1)] for s in range(12)], dtype=np.int64)


def arrays_of(pieces) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """``piece_inputs`` of every piece with at least two beats, and the melody targets
    ``melody_targets``."""
    out = []
    for p in pieces:
        prev, feats, chords = piece_inputs(p.melody, p.beats)
        if len(chords) >= 2:
            out.append((prev, feats, chords, melody_targets(p.melody, p.beats)))
    return out


def melody_targets(melody, beats) -> np.ndarray:
    """[T, 12]: the share of each pitch class in the sounding sixteenth frames of each beat
    (the frames ``note_in_chord`` scores); all zero for a silent beat."""
    from ..evaluation.harmony import frame_pitch_classes

    counts = frame_pitch_classes(melody, beats)
    total = counts.sum(axis=1, keepdims=True)
    return (counts / np.maximum(total, 1)).astype(np.float32)


def make_batch(items, shift_of, crop: int, rng: np.random.Generator, ahead: float = 0.0, noise: float = 0.0,
               own=None):
    """Padded arrays ``(prev [B,T], feats [B,T,F], target [B,T], melody [B,T,12])``; each item transposed by
    ``shift_of(i)`` semitones and cropped at random to ``crop`` beats. The lookahead
    block is kept on a random ``ahead`` share of the beats (0: never, 1: always).

    ``noise``: the share of previous-chord inputs replaced, half by a random chord and
    half by the chord before it (as if the accompaniment had held on). Live, the
    model hears its *own* earlier choices, not the true chords; without this it
    learns to lean on the true history and, free running, gets stuck on one chord.
    ``own``: per item, None or the previous-chord inputs to use instead of the true ones
    (the model's own free-running choices).
    """
    length = min(crop, max(len(it[2]) for it in items))
    b, f = len(items), items[0][1].shape[1]
    prev = np.full((b, length), BOS_CHORD, dtype=np.int64)
    feats = np.zeros((b, length, f), dtype=np.float32)
    target = np.full((b, length), IGNORE, dtype=np.int64)
    melody = np.zeros((b, length, 12), dtype=np.float32)
    for i, (p, x, c, m) in enumerate(items):
        if own is not None and own[i] is not None:
            p = own[i]
        start = int(rng.integers(0, len(c) - crop + 1)) if len(c) > crop else 0
        n = min(crop, len(c))
        s = shift_of(i) % 12
        prev[i, :n] = _TRANSPOSE[s][p[start:start + n]]
        feats[i, :n] = transpose_features(x[start:start + n], s) if s else x[start:start + n]
        target[i, :n] = _TRANSPOSE[s][c[start:start + n]]
        melody[i, :n] = np.roll(m[start:start + n], s, axis=-1)
    if noise > 0:
        r = rng.random((b, length))
        random_chord = rng.integers(0, CHORD_VOCAB_SIZE, (b, length))
        held = np.concatenate([np.full((b, 1), BOS_CHORD), prev[:, :-1]], axis=1)
        real = prev != BOS_CHORD
        prev = np.where(real & (r < noise / 2), random_chord, np.where(real & (r < noise), held, prev))
    if ahead < 1.0:
        hide = rng.random((b, length)) >= ahead
        feats[..., AHEAD:FEATURE_SIZE] *= ~hide[..., None]
    return prev, feats, target, melody


def melody_loss(melody_logits, melody):
    """Cross-entropy of the melody head against the frame shares, over the beats with melody."""
    import torch

    mask = melody.sum(-1) > 0
    if not bool(mask.any()):
        return melody_logits.sum() * 0.0
    ce = -(melody * torch.log_softmax(melody_logits, dim=-1)).sum(-1)
    return ce[mask].mean()


def free_running_history(net, data, device, decide) -> list[np.ndarray]:
    """Per piece, the previous-chord inputs the network gives itself running free over the
    piece (causal, written key): ``decide(chord log-probs [B, V], melody log-probs [B, 12] or
    None)`` -> chosen ids [B]."""
    import torch

    from ..live.chord_model import causal

    net.eval()
    out = []
    with torch.no_grad():
        order = sorted(range(len(data)), key=lambda i: len(data[i][2]))
        chosen: dict[int, np.ndarray] = {}
        for s in range(0, len(order), 64):
            idx = order[s:s + 64]
            length = max(len(data[i][2]) for i in idx)
            feats = np.zeros((len(idx), length, FEATURE_SIZE), dtype=np.float32)
            for k, i in enumerate(idx):
                feats[k, :len(data[i][2])] = causal(data[i][1])
            feats_t = torch.from_numpy(feats).to(device)
            state = torch.zeros(net.cfg.state_layers, len(idx), net.cfg.hidden, device=device)
            prev = np.full((len(idx), length), BOS_CHORD, dtype=np.int64)
            for t in range(length):
                logits, state = net.step(torch.from_numpy(prev[:, t]).to(device), feats_t[:, t], state)
                mel = net.step_melody(state).cpu().numpy() if net.melody_out is not None else None
                choice = decide(torch.log_softmax(logits, -1).cpu().numpy(), mel)
                if t + 1 < length:
                    prev[:, t + 1] = choice
            for k, i in enumerate(idx):
                chosen[i] = prev[k, :len(data[i][2])].copy()
        out = [chosen[i] for i in range(len(data))]
    net.train()
    return out


def evaluate_loss(net, data, device, batch: int = 64, ahead: float = 0.0) -> dict:
    """Mean cross-entropy (nats and bits) and top-1 over every beat, in the written keys
    (causal by default: no lookahead); with a melody head also its cross-entropy in bits
    (``melody_bits``) over the beats with melody."""
    import torch

    net.eval()
    total, count, hits = 0.0, 0, 0
    melody_total, melody_count = 0.0, 0
    order = sorted(range(len(data)), key=lambda i: len(data[i][2]))
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for s in range(0, len(order), batch):
            items = [data[i] for i in order[s:s + batch]]
            prev, feats, target, melody = make_batch(items, lambda i: 0, 10**9, rng, ahead)
            logits, melody_logits = net.forward_heads(torch.from_numpy(prev).to(device),
                                                      torch.from_numpy(feats).to(device))
            if melody_logits is not None:
                m = torch.from_numpy(melody).to(device)
                rows = m.sum(-1) > 0
                melody_total += float(-(m * torch.log_softmax(melody_logits, -1)).sum(-1)[rows].sum())
                melody_count += int(rows.sum())
            t = torch.from_numpy(target).to(device)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), t.reshape(-1),
                                                     ignore_index=IGNORE, reduction="sum")
            mask = t != IGNORE
            hits += int(((logits.argmax(-1) == t) & mask).sum())
            total += float(loss)
            count += int(mask.sum())
    net.train()
    nats = total / max(1, count)
    out = {"loss": nats, "bits": nats / math.log(2), "top1": hits / max(1, count), "beats": count}
    if melody_count:
        out["melody_bits"] = melody_total / melody_count / math.log(2)
    return out


def run(args, corpus=None) -> int:
    import torch

    from .chord_corpus import load_chord_corpus
    from .chord_net import ChordNet, ChordNetConfig, export_chord_net

    started = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    corpus = corpus or load_chord_corpus(cache_dir=args.cache_dir, workers=args.workers)
    train_pieces = corpus.train[: args.limit] if args.limit else corpus.train
    train, valid = arrays_of(train_pieces), arrays_of(corpus.valid)
    if not train or not valid:
        from ..errors import UserError

        raise UserError("the chord corpus has no training or validation pieces: run `midi-assistant corpus --harmony --force`")
    device = torch.device(args.device)
    cfg = ChordNetConfig(hidden=args.hidden, layers=args.layers, dropout=args.dropout, history=not args.no_history,
                         melody=args.melody_weight > 0, melody_tower=args.melody_tower,
                         tower_to_chords=args.tower_to_chords)
    if args.no_history:
        train = [(np.full_like(p, BOS_CHORD), f, c, m) for p, f, c, m in train]
        valid = [(np.full_like(p, BOS_CHORD), f, c, m) for p, f, c, m in valid]
    net = ChordNet(cfg).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(train) / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps_per_epoch * args.epochs,
                                                pct_start=0.1)
    best, best_state, bad, history = math.inf, None, 0, []
    print(f"train-harmony: {len(train)} training pieces ({sum(len(it[2]) for it in train)} beats), "
          f"{len(valid)} validation, {sum(p.numel() for p in net.parameters())} parameters", flush=True)
    epoch = 0
    own = None
    for epoch in range(1, args.epochs + 1):
        if args.own_history > 0 and epoch > 1:
            from ..live.chord_model import choose_chord

            own = free_running_history(net, train, device,
                                       lambda lp, mel: np.array([choose_chord(lp[k], None if mel is None else mel[k])
                                                                 for k in range(len(lp))]))
        order = rng.permutation(len(train))
        run_loss = 0.0
        for s in range(0, len(order), args.batch):
            batch_ids = order[s:s + args.batch]
            items = [train[i] for i in batch_ids]
            shifts = rng.integers(0, 12, len(items))
            use_own = None
            if own is not None:
                pick = rng.random(len(items)) < args.own_history
                use_own = [own[i] if pick[k] else None for k, i in enumerate(batch_ids)]
            prev, feats, target, melody = make_batch(items, lambda i: int(shifts[i]), args.crop, rng, args.ahead,
                                                     args.noise, use_own)
            prev_t, feats_t = torch.from_numpy(prev).to(device), torch.from_numpy(feats).to(device)
            logits, melody_logits = net.forward_heads(prev_t, feats_t)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                     torch.from_numpy(target).to(device).reshape(-1),
                                                     ignore_index=IGNORE)
            if melody_logits is not None:
                loss = loss + args.melody_weight * melody_loss(melody_logits, torch.from_numpy(melody).to(device))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            run_loss += float(loss.detach())
        v = evaluate_loss(net, valid, device)
        history.append({"epoch": epoch, "train_loss": run_loss / steps_per_epoch, **v})
        print(f"epoch {epoch}: train {run_loss / steps_per_epoch:.3f} valid {v['loss']:.3f} nats "
              f"({v['bits']:.3f} bits, top1 {v['top1']:.3f}"
              + (f", melody {v['melody_bits']:.3f} bits" if "melody_bits" in v else "") + ")", flush=True)
        if v["loss"] < best - 1e-4:
            best, bad = v["loss"], 0
            best_state = {k: t.detach().cpu().clone() for k, t in net.state_dict().items()}
        else:
            bad += 1
        if bad >= args.patience or (time.perf_counter() - started) / 60 > args.max_minutes:
            break
    net.load_state_dict(best_state)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    export_chord_net(net, out)
    summary = {
        "command": "midi-assistant train-harmony " + " ".join(
            (f"--{k.replace('_', '-')}" if v is True else f"--{k.replace('_', '-')} {v}")
            for k, v in sorted(vars(args).items())
            if k in ("hidden", "layers", "dropout", "lr", "weight_decay", "batch", "crop", "epochs", "ahead",
                     "noise", "no_history", "patience", "seed", "melody_weight", "own_history", "melody_tower",
                     "tower_to_chords")
            and v is not None and v is not False
            and not (k in ("melody_weight", "own_history") and not v)),
        "config": cfg.to_dict(), "ahead": args.ahead, "noise": args.noise, "seed": args.seed, "epochs_run": epoch, "best_valid": min(history, key=lambda h: h["loss"]),
        "history": history, "seconds": round(time.perf_counter() - started, 1),
        "data": {"train_pieces": len(train), "train_beats": int(sum(len(it[2]) for it in train)),
                 "valid_pieces": len(valid), "valid_beats": int(sum(len(it[2]) for it in valid))},
        "torch": torch.__version__, "threads": args.threads,
    }
    out.with_name(out.name.split(".")[0] + ".train.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out} (best validation {best:.3f} nats, {summary['seconds']} s)")
    return 0
