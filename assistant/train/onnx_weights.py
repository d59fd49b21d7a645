"""The melody network rebuilt from its exported ONNX file, for fine-tuning.

The shipped ``melody.onnx`` is the only copy of the trained weights (no PyTorch checkpoint
ships), and its sha256 is checked against its card, so fine-tuning starts from exactly what
the run time plays. The exporter keeps the parameter names of embeddings, norms and biases;
each linear layer's weight is stored transposed under a generated name and is found as the
MatMul whose output the named bias is added to.

Training side only (imports torch through ``melody_net``); any thread.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def config_of(model) -> dict:
    """The network configuration written into the ONNX model's metadata by the exporter."""
    meta = {p.key: p.value for p in model.metadata_props}
    if "config" not in meta:
        raise ValueError("no network configuration in the model's metadata (not exported by assistant.train.export)")
    return json.loads(meta["config"])


def state_dict_from_onnx(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(configuration, parameter arrays by PyTorch name) of an exported melody model."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    weights = {name: numpy_helper.to_array(init) for name, init in inits.items() if not name.startswith("val_")}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in inits:
            continue
        biases = [x for c in consumers.get(node.output[0], []) if c.op_type == "Add"
                  for x in c.input if x.endswith(".bias") and x in inits]
        if len(biases) == 1:
            weights[biases[0][: -len(".bias")] + ".weight"] = numpy_helper.to_array(inits[node.input[1]]).T.copy()
    if "head.weight" in weights:
        weights.setdefault("tok.weight", weights["head.weight"])  # tied
    return config_of(model), weights


def load_melody_net(path: Path):
    """A ``MelodyNet`` holding the weights of the ONNX file at ``path`` (train mode off)."""
    import torch

    from .melody_net import MelodyNet, NetConfig

    config, weights = state_dict_from_onnx(path)
    net = MelodyNet(NetConfig(**config))
    expected = net.state_dict()
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise ValueError(f"{path}: the ONNX file lacks {len(missing)} weights of the network ({', '.join(missing[:4])})")
    state = {}
    for name, tensor in expected.items():
        array = weights[name]
        if tuple(array.shape) != tuple(tensor.shape):
            raise ValueError(f"{path}: weight {name} has shape {array.shape}, the network expects {tuple(tensor.shape)}")
        state[name] = torch.from_numpy(np.array(array, copy=True)).to(tensor.dtype)
    net.load_state_dict(state)
    return net.eval()
