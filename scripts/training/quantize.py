#!/usr/bin/env python3
"""Static int8 quantisation of an encoder (QDQ, per-channel weights), calibrated on tracker-style crops.

The calibration crops are cut exactly as the tracker cuts them (search crops around ground-truth boxes,
the sidecar's normalisation) from training sequences, never from dev. Writes <out>.onnx and a sidecar <out>.json
that copies the source sidecar (tracker hyper-parameters included) with the new file and name.

    python3 scripts/training/quantize.py models/effnet_lite0_s8.json ../shared/data/train models/effnet_lite0_s8_int8

Needs onnx, onnxruntime, numpy and opencv-python-headless (scripts/training/requirements-train.txt), not torch.
"""
import argparse
import json
import random
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

from crops import crop_square, normalise, otb_box_to_center, read_rgb, template_side
from graph_rewrite import fold_same_padding
from sequences import load_sequences


def calibration_batches(sidecar, train_root, sequences, per_sequence, seed):
    """One [1, 3, S, S] search crop around the box of each sampled frame (a search crop holds what a template crop
    holds, and the histogram calibrators need one input shape)."""
    rng = random.Random(seed)
    seqs = load_sequences(train_root)
    rng.shuffle(seqs)
    context = sidecar["tracker"]["context"]
    ratio = sidecar["search_size"] / sidecar["template_size"]
    for seq in seqs[:sequences]:
        valid = [i for i in range(len(seq.frames)) if seq.valid(i)]
        for i in rng.sample(valid, min(per_sequence, len(valid))):
            img = read_rgb(seq.frames[i])
            cx, cy, w, h = otb_box_to_center(seq.boxes[i])
            crop = crop_square(img, cx, cy, template_side(w, h, context) * ratio, sidecar["search_size"])
            if sidecar["channel_order"] == "bgr":
                crop = crop[..., ::-1]
            yield normalise([crop], sidecar["mean"], sidecar["std"])


METHODS = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
           "entropy": CalibrationMethod.Entropy}


class Reader(CalibrationDataReader):
    def __init__(self, input_name, batches):
        self.input_name = input_name
        self.batches = iter(batches)

    def get_next(self):
        batch = next(self.batches, None)
        return None if batch is None else {self.input_name: batch}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sidecar", type=Path, help="float model's JSON sidecar")
    ap.add_argument("train", type=Path, help="training sequences (OTB layout), e.g. ../shared/data/train")
    ap.add_argument("out", type=Path, help="output path without extension")
    ap.add_argument("--sequences", type=int, default=40, help="sequences sampled for calibration")
    ap.add_argument("--per-sequence", type=int, default=8, help="frames sampled per sequence")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calibration", choices=["minmax", "percentile", "entropy"], default="percentile",
                    help="how activation ranges are set from the calibration crops")
    args = ap.parse_args()

    sidecar = json.loads(args.sidecar.read_text())
    source = args.sidecar.parent / sidecar["onnx"]
    out_onnx = args.out.with_suffix(".onnx")
    with tempfile.TemporaryDirectory() as tmp:
        folded, prepared = Path(tmp) / "folded.onnx", Path(tmp) / "prepared.onnx"
        model = onnx.load(str(source))
        if fold_same_padding(model):
            print("folded the Pad nodes into their convolutions first (scripts/training/graph_rewrite.py)")
        onnx.save(model, str(folded))
        quant_pre_process(str(folded), str(prepared))
        batches = calibration_batches(sidecar, args.train, args.sequences, args.per_sequence, args.seed)
        quantize_static(
            str(prepared), str(out_onnx), Reader(sidecar["input_name"], batches),
            quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            per_channel=True, calibrate_method=METHODS[args.calibration])
    sidecar.update(name=args.out.name, onnx=out_onnx.name,
                   description=sidecar["description"] + "; static int8 (QDQ, per-channel weights), calibrated "
                   f"on {args.sequences} x {args.per_sequence} frames of training sequences by scripts/training/quantize.py")
    args.out.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    print(f"wrote {out_onnx} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
