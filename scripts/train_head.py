"""Train the box-size head (siamnet.BoxHead) on a frozen Siamese embedding; resumable; CPU by default, CUDA with
--device cuda.

  python3 scripts/train_head.py --out RUN_DIR [--checkpoint TRUNK_RUN/checkpoint.pt]   # new run
  python3 scripts/train_head.py --out RUN_DIR --resume      # continue it exactly, with the saved configuration
Without --checkpoint the embedding is the ImageNet trunk with template crop 8, as export.py exports it.
See scripts/TRAINING.md.
"""
import argparse
import math
import time
from pathlib import Path

import torch

import crops
import export
import train
from siamnet import BoxHead


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_run_args(p)
    p.add_argument("--checkpoint", type=Path,
                   help="train.py checkpoint.pt whose embedding stays frozen (default: the ImageNet trunk)")
    train.add_pair_args(p)
    train.add_schedule_args(p, steps=20000)
    p.add_argument("--export", metavar="NAME",
                   help="at the end, export OUT/NAME.onnx + OUT/NAME_head.onnx + OUT/NAME.json")
    return p.parse_args()


def load_trunk(checkpoint):
    """(SiamNet, the train.py checkpoint without its optimizer, or None for the ImageNet trunk)."""
    if checkpoint is None:
        return export.load_model(None)[0], None
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    trunk = {key: state[key] for key in ("model", "step", "config")}
    return export.model_from_state(trunk)[0], trunk


def response_size(net):
    """Side of the network's correlation map (the response map's side)."""
    with torch.no_grad():
        return net.head_input(torch.zeros(1, 3, crops.TEMPLATE_SIZE, crops.TEMPLATE_SIZE),
                                  torch.zeros(1, 3, crops.SEARCH_SIZE, crops.SEARCH_SIZE)).shape[-1]


def size_loss(log_change, labels, changes):
    """Mean |log predicted - log true size change| over width, height and the positive label cells; distractor pairs have
    no positive cell and add nothing."""
    error = (log_change - changes.log()[:, :, None, None]).abs()
    return (error * labels).sum() / (2 * labels.sum()).clamp(min=1)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = args.out / "checkpoint.pt"
    runtime = {k: v for k, v in vars(args).items() if k in train.RUNTIME_ARGS}
    if args.resume:
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        config, start, trunk = state["config"], state["step"], state["trunk"]
        net, _, head = export.head_model_from_state(state)
    else:
        if checkpoint_path.exists():
            raise SystemExit(f"{checkpoint_path} exists: use --resume, or another --out")
        config = {k: v for k, v in vars(args).items() if k not in train.RUNTIME_ARGS}
        # only a record: the trunk's weights go into this run's checkpoint, so a later change of that file is harmless
        config["checkpoint"] = str(args.checkpoint.resolve()) if args.checkpoint else None
        net, trunk = load_trunk(args.checkpoint)
        torch.manual_seed(config["seed"])  # the head's initial weights
        head = BoxHead(net.embed.channels)
        start = 0
    cells = response_size(net)

    device = torch.device(runtime["device"])
    net.to(device).eval()  # frozen, batch-norm statistics included
    head.to(device).train()
    optimizer = train.make_optimizer(head, config)
    if args.resume:
        optimizer.load_state_dict(state["optimizer"])
        train.log(args.out, f"resumed at step {start}")
    else:
        train.log(args.out, f"config {config}")
        train.log(args.out, f"trunk {config['checkpoint'] or 'ImageNet'}: {net.embed.channels} channels, template crop "
                            f"{net.template_crop}, correlation map {cells}x{cells}")

    last_save, window_start, losses = time.time(), time.time(), []
    for step, (templates, searches, labels, changes) in enumerate(
            train.batches(config, cells, start, runtime["workers"], with_sizes=True), start):
        for group in optimizer.param_groups:
            group["lr"] = train.lr_at(step, config)
        with torch.no_grad():
            head_input = net.head_input(torch.from_numpy(templates).to(device), torch.from_numpy(searches).to(device))
        loss = size_loss(head.log_change(head_input), torch.from_numpy(labels).to(device), torch.from_numpy(changes).to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

        done = step + 1
        if done % config["log_every"] == 0:
            mean = sum(losses) / len(losses)
            seconds = (time.time() - window_start) / len(losses)
            # exp(mean |log error|) - 1: by how much a predicted width or height is off, typically
            train.log(args.out, f"step {done} loss {mean:.4f} size error {100 * (math.exp(mean) - 1):.1f} % "
                                f"lr {train.lr_at(step, config):.2e} {seconds:.2f} s/step")
            window_start, losses = time.time(), []
        if time.time() - last_save > config["checkpoint_minutes"] * 60 or done == config["steps"]:
            train.save_checkpoint(checkpoint_path, head, optimizer, done, config, trunk=trunk)
            last_save = time.time()
    train.log(args.out, f"finished at step {config['steps']}")
    if config["export"]:
        export.export_head_model(checkpoint_path, config["export"], args.out, sample_data=config["train_data"][0])


if __name__ == "__main__":
    main()
