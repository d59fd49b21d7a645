"""Export the melody network to ONNX with an incremental step (cache in, cache out).

One graph serves prefill and single steps: inputs ``tokens``, ``positions``,
``meters`` [batch, new] int64 and ``past_keys``/``past_values``
[layers, batch, heads, past, head_dim] float32 (past may be 0); outputs ``logits``
[batch, new, vocab] and ``present_keys``/``present_values`` with past+new entries.
The network's configuration is written into the model's metadata so that the run
time needs nothing but the .onnx file.
"""

from __future__ import annotations

import json
from pathlib import Path

INPUTS = ["tokens", "positions", "meters", "past_keys", "past_values"]
OUTPUTS = ["logits", "present_keys", "present_values"]


def export_melody(net, out: Path, quantize: bool = False) -> list[Path]:
    """Write ``out`` (fp32) and, with ``quantize``, ``<out stem>.int8.onnx``; returns the paths."""
    import onnx
    import torch

    net = net.to("cpu").eval()
    cfg = net.cfg
    d_head = cfg.d_model // cfg.n_heads
    b, t, p = 2, 3, 5
    example = (
        torch.zeros((b, t), dtype=torch.int64) + 300,
        torch.zeros((b, t), dtype=torch.int64),
        torch.zeros((b, t), dtype=torch.int64),
        torch.zeros((cfg.n_layers, b, cfg.n_heads, p, d_head)),
        torch.zeros((cfg.n_layers, b, cfg.n_heads, p, d_head)),
    )
    batch = torch.export.Dim("batch", min=1, max=64)
    new = torch.export.Dim("new", min=1, max=4096)
    past = torch.export.Dim("past", min=0, max=8192)
    dynamic_shapes = {
        "tokens": {0: batch, 1: new},
        "positions": {0: batch, 1: new},
        "meters": {0: batch, 1: new},
        "past_keys": {1: batch, 3: past},
        "past_values": {1: batch, 3: past},
    }
    out = Path(out)
    tmp = out.with_suffix(".tmp.onnx")
    torch.onnx.export(net, example, str(tmp), input_names=INPUTS, output_names=OUTPUTS,
                      dynamic_shapes=dynamic_shapes, dynamo=True, external_data=False)
    model = onnx.load(str(tmp))
    tmp.unlink()
    meta = {"config": json.dumps(cfg.to_dict()), "vocabulary": "assistant.tokens v1"}
    del model.metadata_props[:]
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(model, str(out))
    written = [out]
    if quantize:
        written.append(quantize_int8(out))
    return written


def quantize_int8(path: Path) -> Path:
    """Dynamic int8 quantisation of the MatMul weights; returns the new file's path."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = Path(path)
    model = onnx.load(str(path))
    # The dynamo exporter leaves shape annotations that trip quantisation's shape
    # inference; clearing them lets it re-infer (see DESIGN.md section 5).
    del model.graph.value_info[:]
    cleared = path.with_suffix(".noinfo.onnx")
    onnx.save(model, str(cleared))
    target = path.with_name(path.stem + ".int8.onnx")
    try:
        quantize_dynamic(str(cleared), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
    finally:
        cleared.unlink(missing_ok=True)
    q = onnx.load(str(target))
    del q.metadata_props[:]
    for prop in model.metadata_props:
        entry = q.metadata_props.add()
        entry.key, entry.value = prop.key, prop.value
    onnx.save(q, str(target))
    return target
