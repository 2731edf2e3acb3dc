#!/usr/bin/env python3
"""Parameters and multiply-accumulates per tracked frame of an exported model: the encoder on the search batch
(scale_num crops of search_size) plus the Rust cross-correlation, counted from the ONNX graph's Conv nodes.

  python3 scripts/training/flops.py models/NAME.json
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort


def conv_macs(model_path, side, batch):
    """(MACs of every Conv node, parameters) for an input of batch x 3 x side x side. The graph computes its
    SAME padding at run time, so the Conv output shapes come from running it with those outputs exposed."""
    model = onnx.load(model_path)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    for node in convs:
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(node.output[0]))
    session = ort.InferenceSession(model.SerializeToString())
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(None, {"input": np.zeros((batch, 3, side, side), np.float32)})))
    weights = {w.name: w.dims for w in model.graph.initializer}
    # MACs = output elements x weights per output element (in_c / groups x kh x kw)
    total = sum(values[n.output[0]].size * int(np.prod(weights[n.input[1]][1:])) for n in convs)
    params = sum(int(np.prod(w.dims)) for w in model.graph.initializer)
    return total, params


def main():
    sidecar_path = Path(sys.argv[1])
    sidecar = json.loads(sidecar_path.read_text())
    onnx_path = sidecar_path.parent / sidecar["onnx"]
    t = sidecar["tracker"]
    search, params = conv_macs(onnx_path, sidecar["search_size"], t["scale_num"])
    template, _ = conv_macs(onnx_path, sidecar["template_size"], 1)
    k = t.get("template_crop") or sidecar["template_feature_size"]
    response = sidecar["search_feature_size"] - k + 1
    xcorr = t["scale_num"] * sidecar["channels"] * k * k * response * response
    print(f"{sidecar['name']}: {params} parameters; per frame {search / 1e6:.1f} M MACs encoder "
          f"({t['scale_num']} x {sidecar['search_size']}^2) + {xcorr / 1e6:.1f} M MACs xcorr "
          f"= {(search + xcorr) / 1e9:.3f} GMACs ({2 * (search + xcorr) / 1e9:.2f} GFLOPs); "
          f"template once: {template / 1e6:.1f} M MACs")


if __name__ == "__main__":
    main()
