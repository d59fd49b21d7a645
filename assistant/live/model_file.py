"""A shipped or trained model file: its card's sha256 checked, its ONNX Runtime session opened.

Pure functions of the file system (and onnxruntime); any thread. Every failure is a
``UserError`` that names the file and how to repair it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

from ..errors import UserError

REPAIR_HINT = ("restore it (`git checkout -- models/` in a source checkout, or reinstall midi-assistant) "
               "or rebuild it with the command in its card")


def card_of(path: Path) -> Path:
    """The card beside a model file: ``melody.int8.onnx`` -> ``melody.md``."""
    return path.with_name(path.name.split(".")[0] + ".md")


def has_card(path: Path, command: str) -> bool:
    """Whether the model at ``path`` has its card; if not, one line on stderr saying that
    ``command`` will not check its sha256 (a model just trained, whose card is written
    from this evaluation)."""
    card = card_of(path)
    if card.is_file():
        return True
    print(f"{command}: {path} has no card beside it ({card.name}): its sha256 is not checked", file=sys.stderr)
    return False


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def card_checksums(card: Path) -> dict[str, str]:
    """``{file name: sha256}`` from the table rows of a model card (``| name.onnx | <sha256> |``)."""
    found = {}
    for name, digest in re.findall(r"`?([\w.\-]+\.onnx)`?\s*\|\s*`?([0-9a-f]{64})`?", card.read_text()):
        found[name] = digest
    return found


def verify_model_file(path: Path, card: Path | None = None) -> None:
    """Raise ``UserError`` unless ``path`` exists and matches the sha256 its card states."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} is missing; {REPAIR_HINT}")
    card = card or card_of(path)
    if not card.is_file():
        raise UserError(f"model card {card} for {path} is missing; {REPAIR_HINT}")
    expected = card_checksums(card).get(path.name)
    if expected is None:
        raise UserError(f"model card {card} states no sha256 for {path.name}; {REPAIR_HINT}")
    actual = sha256_of(path)
    if actual != expected:
        raise UserError(f"model file {path} is corrupt (sha256 {actual[:12]}... but {card.name} says "
                        f"{expected[:12]}...); {REPAIR_HINT}")


def open_session(path: Path, *, verify: bool = True, threads: int = 1):
    """``(onnxruntime session, config dict from the metadata)`` for a model file.

    With ``verify`` the sha256 must match the card beside it. One intra-op thread
    without spinning: the session costs nothing while idle and leaves the other
    cores to the scheduler. No memory pattern: ONNX Runtime would keep one per input shape,
    and the sliding cache and batch sizes make hundreds (11 MB more in 100 notes, at the
    same speed). Any failure is a ``UserError`` naming the file.
    """
    if verify:
        verify_model_file(path)
    elif not path.is_file():
        raise UserError(f"model file {path} is missing; {REPAIR_HINT}")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.enable_mem_pattern = False  # a plan cached per input shape: the cache's shapes are many
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        config = json.loads(session.get_modelmeta().custom_metadata_map["config"])
    except Exception as err:  # onnxruntime raises several types for a bad file
        raise UserError(f"model file {path} cannot be loaded ({type(err).__name__}); {REPAIR_HINT}") from None
    return session, config
