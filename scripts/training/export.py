"""Export the Siamese embedding to ONNX + the JSON sidecar the Rust tracker reads, and check ORT against PyTorch.

  python3 scripts/training/export.py                                   # ImageNet trunk, no tracking training
  python3 scripts/training/export.py --checkpoint RUN/checkpoint.pt --name NAME
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

import crops
from graph_rewrite import check_equal, fold_same_padding
from sequences import load_sequences
from siamnet import LITE0_MEAN, LITE0_STD, STRIDE8_DEPTH, TOTAL_STRIDE, SiamNet

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TRAIN_DATA = REPO.parent / "shared" / "data" / "train"
OPSET = 18  # the torch exporter writes 18 natively (its Pad cannot be down-converted to 17)
# Features reach |40|, where float32 rounding of reordered sums is ~1e-4; allow 1e-5 of the feature range.
PARITY_TOLERANCE = 1e-5
UNTRAINED_TEMPLATE_CROP = 8
# SiamFC (Bertinetto et al. 2016) tracking hyper-parameters, used when no checkpoint config gives others.
DEFAULT_TRACKER = {
    "context": crops.CONTEXT,
    "scale_num": 3,
    "scale_step": 1.0375,
    "scale_penalty": 0.9745,
    "scale_lr": 0.59,
    "window_influence": 0.176,
    "response_up": 16,
}


def sample_crops(data_root, n_sequences=6, pairs_per_sequence=4, frame_gap=20):
    """(templates, searches) from train frames, for the parity check: template at frame i, search centred on the
    target at frame i+gap."""
    templates, searches = [], []
    # sequences shorter than the gap have no pair
    sequences = [seq for seq in load_sequences(data_root) if len(seq.frames) > frame_gap]
    for seq in sequences[:: max(1, len(sequences) // n_sequences)][:n_sequences]:
        starts = np.linspace(0, len(seq.frames) - 1 - frame_gap, pairs_per_sequence).astype(int)
        for i in starts:
            j = i + frame_gap
            if not (seq.valid(i) and seq.valid(j)):
                continue
            for frame, out, size in ((i, templates, crops.TEMPLATE_SIZE), (j, searches, crops.SEARCH_SIZE)):
                cx, cy, w, h = crops.otb_box_to_center(seq.boxes[frame])
                side = crops.template_side(w, h) * size / crops.TEMPLATE_SIZE
                out.append(crops.crop_square(crops.read_rgb(seq.frames[frame]), cx, cy, side, size))
    return (crops.normalise(templates, LITE0_MEAN, LITE0_STD), crops.normalise(searches, LITE0_MEAN, LITE0_STD))


def export_onnx(embed, path):
    example = torch.zeros(2, 3, crops.SEARCH_SIZE, crops.SEARCH_SIZE)
    dims = {0: torch.export.Dim("batch", min=1), 2: torch.export.Dim("height", min=32),
            3: torch.export.Dim("width", min=32)}
    torch.onnx.export(embed, (example,), str(path), input_names=["input"], output_names=["features"],
                      opset_version=OPSET, dynamo=True, external_data=False, dynamic_shapes={"x": dims})
    exported = onnx.load(str(path))
    folded = onnx.load(str(path))
    fold_same_padding(folded)
    check_equal(exported, folded, "input")
    onnx.save(folded, str(path))


def check_and_time(embed, path, inputs):
    """Max |ORT - PyTorch| per input (fails above PARITY_TOLERANCE of the largest feature), output shapes, and ORT ms per forward on one thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    shapes = {}
    for label, x in inputs.items():
        with torch.no_grad():
            expected = embed(torch.from_numpy(x)).numpy()
        got = session.run(["features"], {"input": x})[0]
        diff = float(np.abs(got - expected).max())
        limit = PARITY_TOLERANCE * max(1.0, float(np.abs(expected).max()))
        for _ in range(3):
            session.run(["features"], {"input": x})
        runs = 20
        start = time.perf_counter()
        for _ in range(runs):
            session.run(["features"], {"input": x})
        ms = (time.perf_counter() - start) * 1000 / runs
        print(f"{label}: features {list(got.shape)}, max |features| {np.abs(expected).max():.1f}, max |ORT - torch| = {diff:.2e}, ORT {ms:.2f} ms/forward (1 thread)")
        if got.shape != expected.shape or diff > limit:
            raise SystemExit(f"ONNX parity check failed for {label}: shape {got.shape} vs {expected.shape}, diff {diff} > {limit}")
        shapes[label] = got.shape
    return shapes


def load_model(checkpoint, depth=STRIDE8_DEPTH):
    """(SiamNet, config dict or None): the checkpoint's trained model, or the ImageNet trunk of that depth."""
    if checkpoint is None:
        # Only the central 8x8 template cells (the target itself): with the whole 16x16 template, untrained
        # features match the background context and the box stays where the background was.
        net = SiamNet(depth, template_crop=UNTRAINED_TEMPLATE_CROP)
        net.embed.trunk.load_imagenet()
        return net.eval(), None
    return model_from_state(torch.load(checkpoint, map_location="cpu", weights_only=False))


def model_from_state(state):
    """(SiamNet, config dict) from a loaded train.py checkpoint (its "model", "step" and "config")."""
    config = dict(state["config"], step=state["step"])
    net = SiamNet(config["depth"], config["neck"], config["template_crop"])
    net.load_state_dict(state["model"])
    return net.eval(), config


def export_model(checkpoint, name, out_dir, description=None, sample_data=DEFAULT_TRAIN_DATA, depth=STRIDE8_DEPTH):
    """Write out_dir/name.onnx + name.json from a checkpoint (None = the ImageNet trunk of that depth), after the
    ORT parity check."""
    net, config = load_model(checkpoint, depth)
    description = description or default_description(config, net.embed.channels)
    write_export(net, config, name, out_dir, description, sample_data)


def default_description(config, channels):
    if config is None:
        return f"EfficientNet-Lite0 ImageNet trunk cut at stride 8 ({channels} ch), no tracking training"
    return (f"EfficientNet-Lite0 Siamese trunk (depth {config['depth']}, stride 8) "
            f"trained for tracking, {config['loss']} loss, step {config['step']}")


def write_export(net, config, name, out_dir, description, sample_data):
    """Write out_dir/name.onnx + name.json, after the ORT parity check."""
    templates, searches = sample_crops(sample_data)
    if config is None:
        tracker = dict(DEFAULT_TRACKER)
    else:
        tracker = {key: config["tracker"].get(key, value) for key, value in DEFAULT_TRACKER.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / f"{name}.onnx"
    export_onnx(net.embed, onnx_path)
    shapes = check_and_time(net.embed, onnx_path, {"1x127": templates[:1], "3x255": searches[:3]})
    params = sum(p.numel() for p in net.embed.parameters())
    print(f"embedding parameters: {params}, ONNX file {onnx_path.stat().st_size / 1e6:.2f} MB")

    sidecar = {
        "name": name,
        "description": description,
        "onnx": onnx_path.name,
        "input_name": "input",
        "output_name": "features",
        "channel_order": "rgb",
        "mean": LITE0_MEAN,
        "std": LITE0_STD,
        "template_size": crops.TEMPLATE_SIZE,
        "search_size": crops.SEARCH_SIZE,
        "total_stride": TOTAL_STRIDE,
        "channels": int(shapes["1x127"][1]),
        "template_feature_size": int(shapes["1x127"][-1]),
        "search_feature_size": int(shapes["3x255"][-1]),
        "tracker": {**tracker, "template_crop": net.template_crop},
    }
    sidecar_path = out_dir / f"{name}.json"
    sidecar_path.write_text(json.dumps(sidecar, indent=2) + "\n")
    print(f"wrote {onnx_path} and {sidecar_path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="training checkpoint.pt (default: ImageNet trunk only)")
    parser.add_argument("--depth", type=int, default=STRIDE8_DEPTH,
                        help="without a checkpoint: EfficientNet-Lite0 blocks of the ImageNet trunk (8: + the dilated "
                             "80-channel stage)")
    parser.add_argument("--name", default="effnet_lite0_s8")
    parser.add_argument("--out-dir", type=Path, default=REPO / "models")
    parser.add_argument("--description", help="one line for the sidecar")
    parser.add_argument("--sample-data", type=Path, default=DEFAULT_TRAIN_DATA,
                        help="train sequences whose crops feed the ONNX Runtime parity check")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.depth != STRIDE8_DEPTH and args.checkpoint:
        parser.error("--depth is for the ImageNet trunk; a checkpoint has its own")
    export_model(args.checkpoint, args.name, args.out_dir, args.description, args.sample_data, args.depth)


if __name__ == "__main__":
    main()
