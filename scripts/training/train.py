"""Train the Siamese EfficientNet-Lite0 tracker (SiamFC head); resumable; CPU by default, CUDA with --device cuda.

  python3 scripts/training/train.py --out RUN_DIR [options]      # new run (fails if RUN_DIR/checkpoint.pt exists)
  python3 scripts/training/train.py --out RUN_DIR --resume       # continue it exactly, with the saved configuration
  python3 scripts/training/train.py --out RUN_DIR --contact-sheet pairs.png   # look at sampled pairs, no training
See scripts/training/TRAINING.md.
"""
import argparse
import dataclasses
import math
import multiprocessing
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import crops
import export
import track
from pairs import Augment, PairSampler, contact_sheet
from siamnet import LITE0_MEAN, LITE0_STD, STRIDE8_DEPTH, TOTAL_STRIDE, SiamNet, center_crop, unit_energy_scale

DATA = export.REPO.parent / "shared" / "data"
# Only these may differ between a run and its --resume; everything else comes from the checkpoint's config.
RUNTIME_ARGS = {"out", "resume", "device", "threads", "workers", "contact_sheet"}


def add_run_args(p):
    """The run options in RUNTIME_ARGS, all but --contact-sheet."""
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoint.pt, log.txt, exported model")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--workers", type=int, default=0, help="processes preparing batches (0 = in the main process)")


def add_pair_args(p):
    """Pair sampling, label and augmentation options: what make_sampler reads."""
    p.add_argument("--train-data", nargs="*", default=[str(DATA / "train")], help="OTB/GOT-10k sequence folders")
    p.add_argument("--coco", nargs="*", default=[str(DATA / "coco128")], help="YOLO image folders (same-image pairs)")
    p.add_argument("--max-gap", type=int, default=100, help="max frames between template and search")
    p.add_argument("--coco-prob", type=float, default=0.2, help="share of pairs from the YOLO images")
    p.add_argument("--negative-prob", type=float, default=0.1, help="share of distractor pairs (all-negative label)")
    p.add_argument("--pos-radius", type=float, default=2.0, help="positive label radius, search-feature cells")
    for field in dataclasses.fields(Augment):
        p.add_argument("--" + field.name.replace("_", "-"), type=float, default=field.default,
                       help="augmentation, see TRAINING.md")


def add_schedule_args(p, steps):
    """Optimisation, logging and checkpoint options: what lr_at and the training loop read."""
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW peak learning rate, cosine decay to 1%%")
    p.add_argument("--warmup-steps", type=int, default=200)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_args(p)
    p.add_argument("--contact-sheet", type=Path, help="write a PNG of 16 sampled pairs and exit")
    add_pair_args(p)
    p.add_argument("--loss", choices=["logistic", "triplet"], default="logistic")
    p.add_argument("--depth", type=int, default=STRIDE8_DEPTH,
                   help="EfficientNet-Lite0 blocks kept; beyond 5 they are dilated to stay at stride 8 (8: +80 ch stage)")
    p.add_argument("--neck", type=int, default=0, help="channels of a 1x1 conv + BN after the trunk (0 = none)")
    p.add_argument("--template-crop", type=int, default=0, help="correlate only the central k x k template cells")
    p.add_argument("--freeze-blocks", type=int, default=2, help="stem + this many first blocks are not trained ...")
    p.add_argument("--unfreeze-step", type=int, default=-1, help="... until this step (-1 = never)")
    add_schedule_args(p, steps=50000)
    p.add_argument("--snapshot-every", type=int, default=0,
                   help="also keep OUT/step_N.pt every N steps, to export and compare later (0 = never)")
    p.add_argument("--eval-every", type=int, default=2000, help="dev AUC every N steps (0 = never)")
    p.add_argument("--dev-data", default=str(DATA / "dev"))
    p.add_argument("--dev-seqs", default="Crossing,Football1,Dog", help="comma-separated dev sequences")
    p.add_argument("--dev-frames", type=int, default=100, help="frames per dev sequence")
    p.add_argument("--export", metavar="NAME", help="at the end, export OUT/NAME.onnx + OUT/NAME.json")
    return p.parse_args()


def build_model(config):
    net = SiamNet(config["depth"], config["neck"], config["template_crop"])
    net.embed.trunk.load_imagenet()
    return net


def set_frozen(net, blocks_frozen):
    """Stem + the first blocks_frozen blocks get no gradient; blocks_frozen < 0 trains everything."""
    trunk = net.embed.trunk
    frozen = [] if blocks_frozen < 0 else [trunk._conv_stem, trunk._bn0, *trunk._blocks[:blocks_frozen]]
    frozen_params = {id(p) for module in frozen for p in module.parameters()}
    for param in net.parameters():
        param.requires_grad = id(param) not in frozen_params


def train_mode(net):
    """Train, but keep the trunk's ImageNet batch-norm statistics: batches of 8 are too small to re-estimate them."""
    net.train()
    for module in net.embed.trunk.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eval()


def logistic_loss(response, labels):
    """SiamFC balanced logistic loss: positives and negatives each carry half of every pair's weight."""
    pos = labels.sum((1, 2, 3), keepdim=True)
    neg = labels[0].numel() - pos
    weights = torch.where(labels > 0, 0.5 / pos.clamp(min=1), 0.5 / neg.clamp(min=1))
    bce = F.binary_cross_entropy_with_logits(response, labels, reduction="none")
    return (weights * bce).sum() / len(labels)


def triplet_loss(response, labels):
    """Triplet loss of SiamFC-tri: mean softplus(negative - positive) over all (target, background) cell pairs.

    Distractor pairs have no positive cell and so contribute nothing here.
    """
    flat, is_pos = response.flatten(1), labels.flatten(1) > 0
    diff = flat[:, None, :] - flat[:, :, None]  # [b, positive i, negative j] = r_j - r_i
    mask = (is_pos[:, :, None] & ~is_pos[:, None, :]).float()
    return (F.softplus(diff) * mask).sum() / mask.sum().clamp(min=1)


def lr_at(step, config):
    if step < config["warmup_steps"]:
        return config["lr"] * (step + 1) / config["warmup_steps"]
    progress = (step - config["warmup_steps"]) / max(1, config["steps"] - config["warmup_steps"])
    return config["lr"] * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def make_sampler(config, response_size):
    augment = Augment(**{f.name: config[f.name] for f in dataclasses.fields(Augment)})
    return PairSampler(config["train_data"], config["coco"], config["max_gap"], config["coco_prob"],
                       config["negative_prob"], augment, response_size, config["pos_radius"], TOTAL_STRIDE,
                       LITE0_MEAN, LITE0_STD)


_worker_sampler = None


def _init_worker(config, response_size):
    global _worker_sampler
    torch.set_num_threads(1)
    _worker_sampler = make_sampler(config, response_size)


def _worker_batch(args):
    seed, step, batch_size = args
    return _worker_sampler.batch(seed, step, batch_size)


def batches(config, response_size, start, workers):
    """Batches for steps start, start+1, ...; each one depends only on (seed, step), so resuming is exact."""
    jobs = ((config["seed"], step, config["batch_size"]) for step in range(start, config["steps"]))
    if workers == 0:
        sampler = make_sampler(config, response_size)
        yield from (sampler.batch(*job) for job in jobs)
        return
    with multiprocessing.get_context("fork").Pool(workers, _init_worker, (config, response_size)) as pool:
        yield from pool.imap(_worker_batch, jobs, chunksize=2)


def feature_sizes(config):
    """(template feature map side, response map side) of the configured network."""
    with torch.no_grad():
        probe = SiamNet(config["depth"], config["neck"], config["template_crop"]).eval()
        template = torch.zeros(1, 3, crops.TEMPLATE_SIZE, crops.TEMPLATE_SIZE)
        search = torch.zeros(1, 3, crops.SEARCH_SIZE, crops.SEARCH_SIZE)
        return probe.embed(template).shape[-1], probe(template, search).shape[-1]


def make_optimizer(net, config):
    """AdamW; weight decay on weight tensors only, not on biases, batch-norm affines or scalars."""
    decay = [p for p in net.parameters() if p.ndim > 1]
    no_decay = [p for p in net.parameters() if p.ndim <= 1]
    return torch.optim.AdamW([{"params": decay, "weight_decay": config["weight_decay"]},
                              {"params": no_decay, "weight_decay": 0.0}], lr=config["lr"])


def save_checkpoint(path, net, optimizer, step, config):
    tmp = path.with_suffix(".tmp")
    torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "config": config}, tmp)
    tmp.replace(path)  # atomic: a run killed while saving keeps its previous checkpoint


def log(out, line):
    print(line, flush=True)
    with open(out / "log.txt", "a") as f:
        f.write(line + "\n")


def evaluate(net, config, device):
    names = [n for n in config["dev_seqs"].split(",") if n]
    net.eval()
    aucs = track.dev_auc(net, config["tracker"], LITE0_MEAN, LITE0_STD, TOTAL_STRIDE, config["dev_data"], names,
                         config["dev_frames"], device)
    train_mode(net)
    return aucs


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = args.out / "checkpoint.pt"
    runtime = {k: v for k, v in vars(args).items() if k in RUNTIME_ARGS}
    if args.resume:
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        config, start = state["config"], state["step"]
    else:
        if checkpoint_path.exists() and not args.contact_sheet:
            raise SystemExit(f"{checkpoint_path} exists: use --resume, or another --out")
        config = {k: v for k, v in vars(args).items() if k not in RUNTIME_ARGS}
        config["tracker"] = dict(export.DEFAULT_TRACKER, template_crop=args.template_crop)
        start = 0
    template_cells, response_size = feature_sizes(config)
    if config["template_crop"] and (template_cells - config["template_crop"]) % 2:
        raise SystemExit(f"--template-crop must have the parity of the {template_cells}-cell template map "
                         "so that the crop stays centred")

    if runtime["contact_sheet"]:
        sampler = make_sampler(config, response_size)
        templates, searches, labels = zip(*sampler.raw_batch(config["seed"], 0, 16))
        contact_sheet(runtime["contact_sheet"], templates, searches, labels, TOTAL_STRIDE)
        print(f"wrote {runtime['contact_sheet']}")
        return

    device = torch.device(runtime["device"])
    net = build_model(config)
    if not args.resume:
        # start the learnable scale where sigmoid(response) is unsaturated, measured on the first batch
        with torch.no_grad():
            z = make_sampler(config, response_size).batch(config["seed"], 0, config["batch_size"])[0]
            z = center_crop(net.eval().embed(torch.from_numpy(z)), config["template_crop"])
            net.log_response_scale.fill_(math.log(unit_energy_scale(z)))
    net.to(device)
    optimizer = make_optimizer(net, config)
    if args.resume:
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        log(args.out, f"resumed at step {start}")
    else:
        log(args.out, f"config {config}")
    loss_fn = logistic_loss if config["loss"] == "logistic" else triplet_loss

    train_mode(net)
    last_save, window_start, losses = time.time(), time.time(), []
    for step, (templates, searches, labels) in enumerate(batches(config, response_size, start, runtime["workers"]),
                                                         start):
        unfrozen = 0 <= config["unfreeze_step"] <= step
        set_frozen(net, -1 if unfrozen else config["freeze_blocks"])
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        response = net(torch.from_numpy(templates).to(device), torch.from_numpy(searches).to(device))
        loss = loss_fn(response, torch.from_numpy(labels).to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

        done = step + 1
        if done % config["log_every"] == 0:
            seconds = (time.time() - window_start) / len(losses)
            log(args.out, f"step {done} loss {sum(losses) / len(losses):.4f} lr {lr_at(step, config):.2e} "
                          f"scale {net.response_scale.item():.3e} bias {net.response_bias.item():.3f} "
                          f"{seconds:.2f} s/step")
            window_start, losses = time.time(), []
        if config["eval_every"] and done % config["eval_every"] == 0:
            aucs = evaluate(net, config, device)
            log(args.out, f"step {done} dev_auc {sum(aucs.values()) / len(aucs):.3f} "
                          + " ".join(f"{k} {v:.3f}" for k, v in aucs.items()))
        if config.get("snapshot_every") and done % config["snapshot_every"] == 0:
            save_checkpoint(args.out / f"step_{done}.pt", net, optimizer, done, config)
        if time.time() - last_save > config["checkpoint_minutes"] * 60 or done == config["steps"]:
            save_checkpoint(checkpoint_path, net, optimizer, done, config)
            last_save = time.time()
    log(args.out, f"finished at step {config['steps']}")
    if config["export"]:
        export.export_model(checkpoint_path, config["export"], args.out, sample_data=config["train_data"][0])


if __name__ == "__main__":
    main()
