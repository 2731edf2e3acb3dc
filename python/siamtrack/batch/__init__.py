"""Many videos at once: ``python -m siamtrack.batch MANIFEST --out DIR [--engine local|ray]``.

Each row of MANIFEST (a CSV file with a header) names an input (a video file, an image folder or a stream URL) and
one target's first box, as ``x,y,w,h`` (0-based pixels) or as ``init_gt``, a ground-truth file whose first valid
line is taken (1-based ``x,y,w,h``, as ``siamtrack track --init-gt`` reads it); an optional ``name`` names the
outputs (default: the file's or folder's name). Rows with the same input and name are the targets of one video,
numbered 1, 2, ... in the order of the rows. Relative paths are taken from the manifest's folder.

For each video, ``DIR/<name>.csv`` is the log ``siamtrack track INPUT --init-gt ... --log <name>.csv`` writes
(the same columns and values); ``DIR/summary.json`` holds, per input, its frames, seconds, state counts and error.
A video is the unit of work: the engine hands videos to workers as they free up, each worker holding one loaded
model; ``local`` runs a pool of processes on this machine, ``ray`` one Ray actor per worker on a Ray cluster (a
local one started for the run, or the one at ``--address``). A failing input is recorded and the others go on; a
video whose worker dies is tried once more on another; a rerun with the same ``--out`` skips the videos already
done. The exit status is 0 when every input succeeded, 1 when one failed, 2 for a bad manifest or options and 130
when interrupted.

`run` does the same from Python and returns the summary; `read_manifest` reads a manifest into `Job` objects.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple, Union
from urllib.parse import urlparse

from ._pool import BatchError, WorkerPool
from ._progress import Progress
from ._worker import Box, Job

__all__ = ["BatchError", "Job", "ManifestError", "main", "read_manifest", "run"]

#: Exit statuses of `main`.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

SUMMARY = "summary.json"

# Seconds between two writes of the summary while videos finish.
_SAVE_EVERY_S = 2.0

# The error of an input a run did not get to before it was interrupted.
_INTERRUPTED = "not tracked: the run was interrupted"

_PathLike = Union[str, "os.PathLike[str]"]

# A number as Rust's f64 parser reads it (the command line's box and ground-truth parser).
_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE)
# The separators of a ground-truth line: commas, semicolons, white space.
_SEPARATORS = re.compile(r"[,;\s]+")


class ManifestError(ValueError):
    """The manifest cannot be read as a whole (a missing column, a row without input, a name used twice)."""


def _number(text: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    return float(text)


def _annotation(line: str) -> Optional[Box]:
    """One ground-truth line as the command line reads it: 4 values, or an 8-value polygon's bounding box; None
    when the target is absent (NaN values, or a zero-size box)."""
    values = [_number(field) for field in _SEPARATORS.split(line.strip()) if field]
    if any(v != v for v in values):
        return None
    if any(v in (float("inf"), float("-inf")) for v in values):
        raise ValueError(f"box {line.strip()!r} has a non-finite value")
    if len(values) == 4:
        x, y, w, h = values
    elif len(values) == 8:
        xs, ys = values[0::2], values[1::2]
        x, y, w, h = min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    else:
        raise ValueError(
            f"expected 4 numbers x,y,w,h (or 8 polygon coordinates), got {len(values)} in {line.strip()!r}"
        )
    if w == 0.0 and h == 0.0:
        return None
    return (x, y, w, h)


def first_truth_box(path: _PathLike) -> Box:
    """The first valid box of an OTB-style ground-truth file (1-based ``x,y,w,h``; commas, tabs or spaces),
    0-based, as ``siamtrack track --init-gt`` takes it. Raises OSError or ValueError."""
    text = Path(path).read_text()
    first: Optional[Box] = None
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        try:
            box = _annotation(line)
        except ValueError as error:
            raise ValueError(f"{path}:{number}: malformed line: {error}") from None
        if first is None and box is not None and all(map(_finite, box)) and box[2] > 0 and box[3] > 0:
            first = (box[0] - 1.0, box[1] - 1.0, box[2], box[3])
    if first is None:
        raise ValueError(f"ground truth {path} holds no box")
    return first


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def _given_box(row: Dict[str, str]) -> Box:
    values = []
    for key in ("x", "y", "w", "h"):
        text = (row.get(key) or "").strip()
        if not text:
            raise ValueError("no box: give x,y,w,h or init_gt")
        values.append(_number(text))
    x, y, w, h = values
    if not all(map(_finite, values)):
        raise ValueError(f"box {x},{y},{w},{h} has a non-finite value")
    if w <= 0.0 or h <= 0.0:
        raise ValueError(f"box width and height must be positive, got w={w} h={h}")
    return (x, y, w, h)


def _is_url(text: str) -> bool:
    return "://" in text


def _resolve(text: str, folder: Path) -> str:
    if _is_url(text):
        return text
    path = Path(text).expanduser()
    return os.path.abspath(path if path.is_absolute() else folder / path)


def default_name(source: str) -> str:
    """The outputs' name for an input without one: a file's name without its extension, a folder's name (its
    parent's for an OTB ``img/`` folder), a URL's last path part or host."""
    if _is_url(source):
        url = urlparse(source)
        parts = [part for part in url.path.split("/") if part]
        name = Path(parts[-1]).stem if parts else url.netloc
    else:
        path = Path(source)
        if path.name == "img" and path.parent.name:
            path = path.parent
        name = path.name if path.is_dir() else path.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "video"


def _check_name(name: str) -> Optional[str]:
    if name in ("", ".", "..") or re.search(r"[/\\\x00]", name):
        return f"{name!r} cannot name a file"
    return None


def read_manifest(path: _PathLike) -> List[Job]:
    """The videos of a manifest, in the order of their first rows (see the module's doc). A row whose box or
    ground truth cannot be read makes a `Job` with `error` set (reported as a failed input); a manifest that cannot
    be read as a whole raises ManifestError."""
    path = Path(path)
    folder = path.resolve().parent
    try:
        with open(path, newline="") as file:
            reader = csv.DictReader(file)
            if reader.fieldnames is None:
                raise ManifestError(f"{path}: empty manifest (expected a header: input,x,y,w,h or input,init_gt)")
            reader.fieldnames = [field.strip().lower() for field in reader.fieldnames]
            columns = set(reader.fieldnames)
            if "input" not in columns or not ({"x", "y", "w", "h"} <= columns or "init_gt" in columns):
                raise ManifestError(
                    f"{path}: the header must name input and either x,y,w,h or init_gt (optionally name); "
                    f"it has {','.join(reader.fieldnames)}"
                )
            rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ManifestError(f"cannot read manifest {path}: {error}") from error
    groups: Dict[Tuple[str, str], Dict[str, Any]] = {}
    names: Dict[str, str] = {}
    for line, row in rows:
        if all(not (value or "").strip() for value in row.values() if isinstance(value, str)):
            continue
        given = (row.get("input") or "").strip()
        if not given:
            raise ManifestError(f"{path}:{line}: the row has no input")
        source = _resolve(given, folder)
        name = (row.get("name") or "").strip() or default_name(source)
        problem = _check_name(name)
        if problem:
            raise ManifestError(f"{path}:{line}: {problem}")
        if names.setdefault(name, source) != source:
            raise ManifestError(
                f"{path}:{line}: the name {name!r} is already that of {names[name]}; give each input its own "
                "name (a name column)"
            )
        group = groups.setdefault((source, name), {"boxes": [], "errors": [], "lines": []})
        group["lines"].append(line)
        try:
            truth = (row.get("init_gt") or "").strip()
            box = first_truth_box(_resolve(truth, folder)) if truth else _given_box(row)
            group["boxes"].append(box)
        except (OSError, ValueError) as error:
            group["errors"].append(f"manifest line {line}: {error}")
    if not groups:
        raise ManifestError(f"{path}: no rows")
    return [
        Job(
            name=name,
            input=source,
            boxes=tuple(group["boxes"]),
            error="; ".join(group["errors"]) or None,
            lines=tuple(group["lines"]),
        )
        for (source, name), group in groups.items()
    ]


def plan_workers(cores: int, workers: Optional[int], threads: Optional[int]) -> Tuple[int, int]:
    """Workers and encoder threads per worker for `cores` CPU cores: what is not given fills the cores (one thread
    per worker by default); workers x threads exceeds the cores only when both are given so."""
    cores = max(int(cores), 1)
    if workers is None and threads is None:
        threads, workers = 1, cores
    elif workers is None:
        workers = max(1, cores // threads)  # type: ignore[operator]
    elif threads is None:
        threads = max(1, cores // workers)
    return int(workers), int(threads)  # type: ignore[arg-type]


def local_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _frame_counts(jobs: Sequence[Job], budget_s: float = 5.0) -> Optional[int]:
    """The frames of every input, when each can tell them within `budget_s` (image folders, video files); None
    otherwise (a stream, a file this machine cannot open)."""
    from .. import _image_files

    cv2: Any
    try:
        import cv2
    except ImportError:
        cv2 = None
    deadline = time.monotonic() + budget_s
    total = 0
    for job in jobs:
        if time.monotonic() > deadline or _is_url(job.input):
            return None
        path = Path(job.input)
        try:
            if path.is_dir():
                total += len(_image_files(path))
                continue
            if cv2 is None or not path.is_file():
                return None
            capture = cv2.VideoCapture(str(path))
            count = capture.get(cv2.CAP_PROP_FRAME_COUNT) if capture.isOpened() else 0
            capture.release()
            if count <= 0:
                return None
            total += int(count)
        except (OSError, ValueError):
            return None
    return total


def _complete(entry: Dict[str, Any], job: Job, out: Path) -> bool:
    """Whether an earlier run's summary entry is `job` done: tracked to its end, from the same input and boxes,
    with its whole log in place (as many bytes as were written)."""
    if not entry.get("ok") or entry.get("input") != job.input:
        return False
    if [list(box) for box in job.boxes] != entry.get("boxes") or job.error is not None:
        return False
    try:
        return (out / f"{job.name}.csv").stat().st_size == int(entry["log_bytes"])
    except (OSError, KeyError, TypeError, ValueError):
        return False


def _previous(out: Path) -> Dict[str, Dict[str, Any]]:
    try:
        summary = json.loads((out / SUMMARY).read_text())
        return {entry["name"]: entry for entry in summary["inputs"] if isinstance(entry, dict) and "name" in entry}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _write_atomic(path: Path, text: str) -> None:
    part = path.with_name(f".{path.name}.part")
    part.write_text(text)
    os.replace(part, path)


def _entry(job: Job, result: Optional[Dict[str, Any]], error: Optional[str] = None) -> Dict[str, Any]:
    entry: Dict[str, Any] = {
        "name": job.name,
        "input": job.input,
        "targets": len(job.boxes),
        "boxes": [list(box) for box in job.boxes],
        "ok": False,
        "error": error,
        "frames": 0,
        "frame_count": None,
        "seconds": 0.0,
        "frame_rate": None,
        "states": [{"tracking": 0, "uncertain": 0, "lost": 0} for _ in job.boxes],
        "attempts": 0,
        "worker": None,
        "worker_deaths": [],
        "log": None,
        "log_bytes": 0,
        "resumed": False,
    }
    if result is not None:
        for key in ("ok", "error", "frames", "frame_count", "frame_rate", "seconds", "states", "attempts", "worker"):
            entry[key] = result.get(key, entry[key])
        entry["worker_deaths"] = result.get("worker_deaths", [])
        entry["seconds"] = round(float(entry["seconds"]), 4)
    return entry


def _save_log(out: Path, job: Job, result: Dict[str, Any]) -> Tuple[Optional[str], int]:
    """Writes the result's log to ``out/<name>.csv`` (whole or not at all); its name and size."""
    log = out / f"{job.name}.csv"
    text = result.get("log")
    if not text:
        if log.exists():
            log.unlink()  # an earlier run's log of what this run could not track
        return None, 0
    data = text.encode()
    part = log.with_name(f".{log.name}.part")
    part.write_bytes(data)
    os.replace(part, log)
    return log.name, len(data)


def run(
    manifest: _PathLike,
    out: _PathLike,
    *,
    engine: str = "local",
    address: Optional[str] = None,
    workers: Optional[int] = None,
    threads_per_worker: Optional[int] = None,
    model: Optional[str] = None,
    progress: bool = True,
    stream: Optional[TextIO] = None,
) -> Dict[str, Any]:
    """Tracks every video of `manifest` into `out` (see the module's doc) and returns the summary written to
    ``out/summary.json``; its ``interrupted`` is True when Ctrl-C (KeyboardInterrupt) stopped the run, after
    which the workers and a local cluster are stopped and the summary holds what was done.

    `engine` is "local" or "ray"; `address` a Ray cluster's (ray engine only; None starts a local cluster);
    `workers` and `threads_per_worker` default to filling the cores (the cluster's, for Ray) with one encoder
    thread per worker; `model` is that of `siamtrack.MultiTracker`. `progress` draws the progress bar on
    `stream` (stderr by default). Raises ManifestError for a bad manifest and BatchError when the engine cannot
    run."""
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray'; got {engine!r}")
    if address is not None and engine != "ray":
        raise ValueError("--address joins a Ray cluster: use it with --engine ray")
    for value, flag in ((workers, "workers"), (threads_per_worker, "threads per worker")):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be 1 or more; got {value}")
    stream = stream if stream is not None else sys.stderr
    started = time.monotonic()
    jobs = read_manifest(manifest)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = _lock(out)
    try:
        return _run(
            os.path.abspath(manifest),
            jobs,
            out,
            engine,
            address,
            workers,
            threads_per_worker,
            model,
            progress,
            stream,
            started,
        )
    finally:
        lock.close()


def _lock(out: Path) -> Any:
    """Holds ``out/.lock`` for this run: two runs writing one folder would overwrite each other's results."""
    handle = open(out / ".lock", "a")
    try:
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # not POSIX: no lock
        pass
    except OSError:
        handle.close()
        raise BatchError(f"another run is writing {out} (it holds {out / '.lock'})") from None
    return handle


def _run(
    manifest: str,
    jobs: List[Job],
    out: Path,
    engine: str,
    address: Optional[str],
    workers: Optional[int],
    threads_per_worker: Optional[int],
    model: Optional[str],
    progress: bool,
    stream: TextIO,
    started: float,
) -> Dict[str, Any]:
    previous = _previous(out)
    entries: Dict[str, Dict[str, Any]] = {}
    todo: List[Job] = []
    for job in jobs:
        before = previous.get(job.name)
        if before is not None and _complete(before, job, out):
            entries[job.name] = {**before, "resumed": True}
        elif job.error is not None:  # a bad box or ground truth: nothing to track
            entries[job.name] = _entry(job, None, job.error)
            _save_log(out, job, {})  # an earlier run's log of other boxes
        else:
            entries[job.name] = _entry(job, None, "not tracked yet")
            todo.append(job)
    summary: Dict[str, Any] = {
        "manifest": manifest,
        "engine": engine,
        "address": address,
        "workers": None,
        "threads_per_worker": None,
        "cores": None,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": 0.0,
        "startup_seconds": None,
        "tracking_seconds": None,
        "videos_per_minute": None,
        "tracked": 0,
        "succeeded": 0,
        "failed": 0,
        "resumed": 0,
        "interrupted": False,
        "inputs": list(entries.values()),
    }

    saved = [0.0]

    def save(now: bool = True) -> None:
        # While videos finish, at most every few seconds: the whole summary is rewritten each time. A run killed
        # outright (SIGKILL) loses at most those seconds of results, whose videos a rerun tracks again.
        if not now and time.monotonic() - saved[0] < _SAVE_EVERY_S:
            return
        summary["inputs"] = list(entries.values())
        summary["seconds"] = round(time.monotonic() - started, 3)
        _write_atomic(out / SUMMARY, json.dumps(summary, indent=1) + "\n")
        saved[0] = time.monotonic()

    save()
    if not todo:
        _finish(summary, entries, started)
        save()
        return summary
    bar = Progress(len(todo), _frame_counts(todo), stream, enabled=progress)
    finished_frames = 0
    inflight: Dict[str, int] = {}  # frames tracked of the videos being tracked, by name
    pool: Optional[WorkerPool] = None
    ray_module: Any = None  # siamtrack.batch._ray, once imported
    try:
        if engine == "ray":
            try:
                from . import _ray as ray_module
            except ImportError as error:
                raise BatchError(f'the ray engine needs Ray ({error}): pip install "siamtrack[ray]"') from error
            cores = ray_module.start_cluster(address)
        else:
            try:
                import cv2  # noqa: F401 - the workers read the videos with it
            except ImportError as error:
                raise BatchError(
                    'the batch reads videos with OpenCV: pip install opencv-python-headless (or "siamtrack[video]")'
                ) from error
            cores = local_cores()
        count, threads = plan_workers(cores, workers, threads_per_worker)
        summary.update(workers=count, threads_per_worker=threads, cores=cores)
        if count * threads > cores:
            bar.note(f"warning: {count} workers x {threads} threads exceed the {cores} cores, as asked")
        if ray_module is not None:
            cpus = float(threads) if count * threads <= cores else max(cores / count, 0.01)
            pool = ray_module.RayPool(count, threads, cpus, model)
        else:
            from ._local import LocalPool

            pool = LocalPool(count, threads, model)

        def died(job: Job, attempt: int, reason: str, retry: bool) -> None:
            then = "tracking it again on another worker" if retry else "giving up on it"
            bar.note(f"{job.name}: the worker died ({reason}) on attempt {attempt}; {then}")

        def tick(running: Dict[str, Tuple[int, Optional[int]]]) -> None:
            inflight.clear()
            inflight.update((name, frames) for name, (frames, _) in running.items())
            bar.update(finished_frames + sum(inflight.values()))

        pool.on_death = died
        for job, result in pool.results(todo, tick):
            if pool.ready_at is not None:
                summary["startup_seconds"] = round(pool.ready_at - started, 3)
                summary["tracking_seconds"] = round(time.monotonic() - pool.ready_at, 3)
            entry = _entry(job, result)
            entry["log"], entry["log_bytes"] = _save_log(out, job, result)
            entries[job.name] = entry
            finished_frames += entry["frames"]
            inflight.pop(job.name, None)
            detail = (
                f"{entry['frames']} frames in {entry['seconds']:.2f} s" if entry["ok"] else f"failed: {entry['error']}"
            )
            bar.finished(job.name, entry["ok"], detail, finished_frames + sum(inflight.values()))
            save(now=False)
        pool.close()
    except KeyboardInterrupt:
        summary["interrupted"] = True
        if pool is not None:
            pool.close(abort=True)
        for entry in entries.values():
            if entry["error"] == "not tracked yet":
                entry["error"] = _INTERRUPTED
    except BaseException as error:
        if pool is not None:
            pool.close(abort=True)
        for entry in entries.values():
            if entry["error"] == "not tracked yet":
                entry["error"] = f"not tracked: {error}"
        _finish(summary, entries, started)
        save()
        raise
    finally:
        bar.close()
        if ray_module is not None:
            ray_module.stop_cluster()
    _finish(summary, entries, started)
    save()
    return summary


def _finish(summary: Dict[str, Any], entries: Dict[str, Dict[str, Any]], started: float) -> None:
    done = [entry for entry in entries.values() if not entry.get("resumed")]
    summary["tracked"] = sum(1 for entry in done if entry["ok"])
    summary["succeeded"] = sum(1 for entry in entries.values() if entry["ok"])
    summary["failed"] = sum(1 for entry in entries.values() if not entry["ok"])
    summary["resumed"] = sum(1 for entry in entries.values() if entry.get("resumed"))
    elapsed = time.monotonic() - started
    summary["videos_per_minute"] = round(60.0 * summary["tracked"] / elapsed, 3) if summary["tracked"] else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m siamtrack.batch",
        description="Track many videos at once: one worker per video at a time, on this machine's cores (local) "
        "or on a Ray cluster (ray). Writes DIR/<name>.csv, the log `siamtrack track --log` writes, per video, and "
        "DIR/summary.json; a rerun with the same --out skips the videos already done.",
    )
    parser.add_argument(
        "manifest",
        help="CSV with a header: input,x,y,w,h (0-based first box) or input,init_gt (ground-truth file, its first "
        "valid line, 1-based), optionally name; rows with the same input and name are the targets of one video",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder of the logs and summary.json")
    parser.add_argument("--engine", choices=("local", "ray"), default="local", help="local processes (default) or Ray")
    parser.add_argument(
        "--address", metavar="ADDR", help="Ray cluster to join (host:port, or auto); default: start a local one"
    )
    parser.add_argument("--workers", type=int, metavar="N", help="workers (default: cores / threads per worker)")
    parser.add_argument(
        "--threads-per-worker",
        type=int,
        metavar="T",
        help="encoder threads per worker (default: cores / workers, or 1)",
    )
    parser.add_argument("--model", help="a shipped model's name or a model sidecar .json (default: the shipped int8)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or per-video lines on stderr")
    return parser


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line; returns the exit status (0 all inputs succeeded, 1 one failed or the engine could not
    run, 2 bad manifest or options, 130 interrupted)."""
    args = _parser().parse_args(argv)
    # SIGTERM stops the run as Ctrl-C does: the workers and a local cluster are stopped, the summary written.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        summary = run(
            args.manifest,
            args.out,
            engine=args.engine,
            address=args.address,
            workers=args.workers,
            threads_per_worker=args.threads_per_worker,
            model=args.model,
            progress=not args.no_progress,
        )
    except (ManifestError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BatchError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    out = Path(args.out)
    failed = [entry for entry in summary["inputs"] if not entry["ok"] and entry["error"] != _INTERRUPTED]
    left = len(summary["inputs"]) - summary["succeeded"] - len(failed)
    rate = summary["videos_per_minute"]
    print(
        f"{summary['succeeded']} of {len(summary['inputs'])} inputs done ({summary['tracked']} tracked now, "
        f"{summary['resumed']} before), {len(failed)} failed"
        + (f", {left} not tracked" if left else "")
        + f", in {summary['seconds']:.1f} s"
        + (f" ({rate:.1f} videos/min)" if rate else "")
        + f"; summary: {out / SUMMARY}"
    )
    for entry in failed:
        print(f"failed: {entry['name']} ({entry['input']}): {entry['error']}", file=sys.stderr)
    if summary["interrupted"]:
        print("interrupted: a rerun with the same --out tracks the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failed else EXIT_OK
