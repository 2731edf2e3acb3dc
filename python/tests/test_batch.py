"""python -m siamtrack.batch: many videos over a pool of workers (local processes or Ray actors), each video's log
the command line's, byte for byte; failing inputs recorded while the others go on; a worker that dies replaced and
its video tried once more; a rerun skipping what is done; Ctrl-C stopping the workers and a local cluster.

The Ray tests share one local cluster of 2 CPUs started here (the test process is its first driver; the batch
runs join it with --address), except the one that starts its own as a user's plain `--engine ray` does."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from conftest import make_clip, run_cli

# The fault injection the workers read (siamtrack/batch/_worker.py).
EXIT_ON, EXIT_MARKER = "SIAMTRACK_BATCH_TEST_EXIT_ON", "SIAMTRACK_BATCH_TEST_EXIT_MARKER"


@dataclass
class Video:
    """A generated input, how the manifest gives its targets, and the command line's log of it."""

    name: str
    input: Path
    truths: list[Path]
    rows: list[dict[str, str]]
    log: Path


def cli_log(input: Path, out: Path, *target_args: object) -> Path:
    run_cli("track", input, *target_args, "--no-display", "--log", out)
    return out


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[Video]:
    """Four generated inputs: three PNG folders (one with two targets, one whose target leaves and comes back)
    given by ground truth, and an mp4 file given by a box."""
    root = tmp_path_factory.mktemp("batch-clips")
    logs = tmp_path_factory.mktemp("batch-cli-logs")
    made = []
    for name, args in (
        ("absent", ("--frames", 60, "--seed", 5, "--absent", "20..35")),
        ("crossing", ("--frames", 30, "--targets", 2, "--seed", 3)),
        ("plain", ("--frames", 30, "--seed", 11)),
    ):
        clip = make_clip(root, name, *args)
        rows = [{"input": str(clip.folder), "init_gt": str(truth), "name": name} for truth in clip.truths]
        gt_args = [arg for truth in clip.truths for arg in ("--init-gt", truth)]
        made.append(Video(name, clip.folder, clip.truths, rows, cli_log(clip.folder, logs / f"{name}.csv", *gt_args)))
    mp4 = root / "moving.mp4"
    run_cli("synth", mp4, "--frames", 30, "--seed", 8)
    x, y, w, h = (float(v) for v in mp4.with_suffix(".txt").read_text().split("\n")[0].split(","))
    box = (x - 1.0, y - 1.0, w, h)
    rows = [{"input": str(mp4), **dict(zip("xywh", map(repr, box))), "name": "moving"}]
    made.append(Video("moving", mp4, [], rows, cli_log(mp4, logs / "moving.csv", "--bbox", ",".join(map(repr, box)))))
    return made


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["input", "x", "y", "w", "h", "init_gt", "name"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def batch(*args: object, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "siamtrack.batch", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def summary_of(out: Path) -> dict[str, dict]:
    return {entry["name"]: entry for entry in json.loads((out / "summary.json").read_text())["inputs"]}


def assert_same_logs(out: Path, videos: list[Video]) -> None:
    for video in videos:
        assert (out / f"{video.name}.csv").read_bytes() == video.log.read_bytes(), video.name


def raylets() -> set[int]:
    """The raylet processes on this machine (one per Ray node running here)."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "raylet":
                found.add(int(entry.name))
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A local Ray cluster of 2 CPUs for the module: its address, and the marker file of the fault injection its
    workers carry (a worker tracking a video named "crash" dies there, once)."""
    ray = pytest.importorskip("ray")
    marker = tmp_path_factory.mktemp("batch-crash") / "died"
    saved = {key: os.environ.get(key) for key in (EXIT_ON, EXIT_MARKER)}
    os.environ.update({EXIT_ON: "crash", EXIT_MARKER: str(marker)})
    try:
        context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        yield context.address_info["gcs_address"], marker
    finally:
        ray.shutdown()


def test_ray_logs_equal_the_command_lines(videos: list[Video], tmp_path: Path) -> None:
    """The plain form: a local cluster started for the run and shut down after it."""
    pytest.importorskip("ray")
    manifest = write_manifest(tmp_path / "manifest.csv", [row for video in videos for row in video.rows])
    before = raylets()
    result = batch(manifest, "--out", tmp_path / "out", "--engine", "ray")
    assert result.returncode == 0, result.stderr
    assert_same_logs(tmp_path / "out", videos)
    assert raylets() == before, "the local cluster is still running"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["engine"], summary["threads_per_worker"]) == ("ray", 1)
    assert summary["workers"] == summary["cores"] >= 1  # one single-thread worker per CPU of the cluster
    assert (summary["succeeded"], summary["failed"], summary["interrupted"]) == (4, 0, False)
    entries = summary_of(tmp_path / "out")
    for video in videos:
        entry = entries[video.name]
        rows = list(csv.DictReader(open(video.log)))
        assert entry["ok"] and entry["error"] is None and entry["attempts"] == 1
        assert entry["frames"] == entry["frame_count"] == len(rows) // entry["targets"]
        assert entry["targets"] == len(video.rows) and entry["log"] == f"{video.name}.csv"
        for target, counts in enumerate(entry["states"], start=1):
            states = [row["state"] for row in rows if row["target"] == str(target)]
            assert counts == {state: states.count(state) for state in ("tracking", "uncertain", "lost")}
    assert entries["absent"]["states"][0]["lost"] > 0
    assert entries["moving"]["frame_rate"] == pytest.approx(30.0)
    # Without a terminal, one progress line per video.
    assert sum(line.startswith("[") for line in result.stderr.splitlines()) == 4


def test_local_engine_writes_the_same_logs(videos: list[Video], tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "manifest.csv", [row for video in videos for row in video.rows])
    result = batch(manifest, "--out", tmp_path / "out", "--workers", 2, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert_same_logs(tmp_path / "out", videos)


def test_failing_inputs_are_recorded_and_the_others_go_on(
    videos: list[Video], cluster: tuple[str, Path], tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(4096))
    good = videos[2]
    box = {"x": "10", "y": "10", "w": "40", "h": "40"}
    rows = [
        {"input": str(tmp_path / "missing.mp4"), **box, "name": "missing"},
        {"input": str(corrupt), **box, "name": "corrupt"},
        {"input": str(good.input), "x": "10", "y": "10", "w": "0", "h": "40", "name": "no-area"},
        {"input": str(good.input), "x": "9000", "y": "10", "w": "40", "h": "40", "name": "outside"},
        {"input": str(good.input), "init_gt": str(tmp_path / "no-truth.txt"), "name": "no-truth"},
        *good.rows,
    ]
    manifest = write_manifest(tmp_path / "manifest.csv", rows)
    out = tmp_path / "out"
    result = batch(manifest, "--out", out, "--engine", "ray", "--address", cluster[0])
    assert result.returncode == 1, result.stderr
    entries = summary_of(out)
    assert entries[good.name]["ok"]
    assert_same_logs(out, [good])
    errors = {name: entries[name]["error"] for name in ("missing", "corrupt", "no-area", "outside", "no-truth")}
    assert "not found" in errors["missing"]
    assert "cannot open" in errors["corrupt"]
    assert "must be positive" in errors["no-area"]
    assert "cannot start tracking target 1" in errors["outside"]
    assert "no-truth.txt" in errors["no-truth"]
    for name in errors:
        assert not entries[name]["ok"] and not (out / f"{name}.csv").exists()
        assert f"failed: {name} " in result.stderr
    assert cluster_still_up(cluster[0])


def cluster_still_up(address: str) -> bool:
    """Whether a run that joined the cluster left it running."""
    import ray

    return ray.is_initialized() and ray.get_runtime_context().gcs_address == address and raylets() != set()


def test_a_killed_worker_has_its_video_retried_once(
    videos: list[Video], cluster: tuple[str, Path], tmp_path: Path
) -> None:
    address, marker = cluster
    crashing = videos[1]  # two targets
    rows = [{**row, "name": "crash"} for row in crashing.rows] + videos[2].rows + videos[3].rows
    out = tmp_path / "out"
    manifest = write_manifest(tmp_path / "manifest.csv", rows)
    result = batch(manifest, "--out", out, "--engine", "ray", "--address", address)
    assert result.returncode == 0, result.stderr
    assert marker.exists(), "no worker died"
    dead = marker.read_text().strip()
    entry = summary_of(out)["crash"]
    assert entry["ok"] and entry["attempts"] == 2 and len(entry["worker_deaths"]) == 1
    assert entry["worker"] != dead
    assert (out / "crash.csv").read_bytes() == crashing.log.read_bytes()
    assert_same_logs(out, videos[2:])
    assert "the worker died" in result.stderr and "tracking it again on another worker" in result.stderr


def test_a_video_whose_workers_keep_dying_fails_after_two_attempts(videos: list[Video], tmp_path: Path) -> None:
    rows = [{**row, "name": "doomed"} for row in videos[2].rows] + videos[3].rows
    out = tmp_path / "out"
    manifest = write_manifest(tmp_path / "manifest.csv", rows)
    result = batch(manifest, "--out", out, "--workers", 2, env={EXIT_ON: "doomed", EXIT_MARKER: ""})
    assert result.returncode == 1, result.stderr
    entries = summary_of(out)
    assert not entries["doomed"]["ok"] and entries["doomed"]["attempts"] == 2
    assert "died on each of 2 attempts" in entries["doomed"]["error"]
    assert entries["moving"]["ok"]
    assert_same_logs(out, videos[3:])


def test_a_rerun_skips_what_is_done(videos: list[Video], cluster: tuple[str, Path], tmp_path: Path) -> None:
    address = cluster[0]
    manifest = write_manifest(tmp_path / "manifest.csv", [row for video in videos[1:] for row in video.rows])
    out = tmp_path / "out"
    first = batch(manifest, "--out", out, "--engine", "ray", "--address", address, "--no-progress")
    assert first.returncode == 0, first.stderr
    stamps = {video.name: (out / f"{video.name}.csv").stat().st_mtime_ns for video in videos[1:]}
    # Everything done: nothing tracked, no worker started.
    again = batch(manifest, "--out", out, "--engine", "ray", "--address", address, "--no-progress")
    assert again.returncode == 0, again.stderr
    assert "(0 tracked now, 3 before)" in again.stdout
    assert all(entry["resumed"] for entry in summary_of(out).values())
    # A log cut short (a run killed while writing it) and a changed box are tracked again; the rest is kept.
    cut = out / "crossing.csv"
    cut.write_bytes(cut.read_bytes()[:200])
    rows = [row for video in videos[1:] for row in video.rows]
    rows[-1] = {**rows[-1], "x": str(float(rows[-1]["x"]) + 1.0)}
    changed = write_manifest(tmp_path / "changed.csv", rows)
    third = batch(changed, "--out", out, "--engine", "ray", "--address", address, "--no-progress")
    assert third.returncode == 0, third.stderr
    entries = summary_of(out)
    assert [name for name, entry in entries.items() if not entry["resumed"]] == ["crossing", "moving"]
    assert (out / "plain.csv").stat().st_mtime_ns == stamps["plain"]
    assert_same_logs(out, [videos[1], videos[2]])
    assert (out / "moving.csv").read_bytes() != videos[3].log.read_bytes()


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_ctrl_c_stops_the_workers_and_keeps_what_is_done(videos: list[Video], tmp_path: Path, engine: str) -> None:
    if engine == "ray":
        pytest.importorskip("ray")
    # One worker, the longest clip several times over: the first finishes well before the last.
    rows = [{**row, "name": f"absent-{k}"} for k in range(6) for row in videos[0].rows]
    manifest = write_manifest(tmp_path / "manifest.csv", rows)
    out = tmp_path / "out"
    before = raylets()
    process = subprocess.Popen(
        [sys.executable, "-m", "siamtrack.batch", str(manifest), "--out", str(out), "--workers", "1"]
        + ["--engine", engine],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stderr is not None
    seen = []
    while not (seen and seen[-1].startswith("[")):
        seen.append(process.stderr.readline())
        assert seen[-1], f"the run ended early: {seen}"
    assert seen[-1].startswith("[1/6] absent-0:"), seen
    workers = children(process.pid) if engine == "local" else actors()
    assert workers, "no worker process"
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C in a terminal: to the whole process group
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"]
    entries = summary_of(out)
    done = [name for name, entry in entries.items() if entry["ok"]]
    assert 1 <= len(done) < 6
    assert all(entries[name]["error"] == "not tracked: the run was interrupted" for name in entries if name not in done)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived the run"
    assert raylets() == before, "the local cluster is still running"
    # The rerun tracks the rest.
    rerun = batch(manifest, "--out", out, "--workers", 2, "--no-progress")
    assert rerun.returncode == 0, rerun.stderr
    assert f"({6 - len(done)} tracked now, {len(done)} before)" in rerun.stdout
    for k in range(6):
        assert (out / f"absent-{k}.csv").read_bytes() == videos[0].log.read_bytes()


def actors() -> list[int]:
    """The processes of batch actors (Ray names them ray::RayWorker...)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::RayWorker"):
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(int(entry.name))
        except (OSError, IndexError):
            pass
    return found


def test_manifest_problems_stop_before_anything_runs(tmp_path: Path, videos: list[Video]) -> None:
    bad_header = tmp_path / "header.csv"
    bad_header.write_text("video,box\nclip.mp4,1\n")
    result = batch(bad_header, "--out", tmp_path / "out")
    assert result.returncode == 2 and "header must name input" in result.stderr
    clash = write_manifest(
        tmp_path / "clash.csv", [{**videos[2].rows[0], "name": "same"}, {**videos[3].rows[0], "name": "same"}]
    )
    result = batch(clash, "--out", tmp_path / "out")
    assert result.returncode == 2 and "already that of" in result.stderr
    assert not (tmp_path / "out").exists()


def test_two_runs_cannot_write_one_folder(tmp_path: Path, videos: list[Video]) -> None:
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a run in progress holds it
        result = batch(write_manifest(tmp_path / "manifest.csv", videos[3].rows), "--out", out)
    assert result.returncode == 1 and "another run is writing" in result.stderr
    assert not (out / "summary.json").exists()


def test_relative_paths_and_default_names(tmp_path: Path, videos: list[Video]) -> None:
    """Paths are taken from the manifest's folder; a folder's name names its outputs (an OTB img/ folder's
    parent), a file's name without its extension."""
    plain, moving = videos[2], videos[3]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "seq").symlink_to(plain.input)
    (tmp_path / "data" / "moving.mp4").symlink_to(moving.input)
    manifest = tmp_path / "data" / "list.csv"
    box = moving.rows[0]
    manifest.write_text(
        "input,x,y,w,h,init_gt\n"
        f"seq/img,,,,,seq/{plain.truths[0].name}\n"
        f"moving.mp4,{box['x']},{box['y']},{box['w']},{box['h']},\n"
    )
    result = batch(manifest, "--out", tmp_path / "out", "--workers", 1, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "seq.csv").read_bytes() == plain.log.read_bytes()
    assert (tmp_path / "out" / "moving.csv").read_bytes() == moving.log.read_bytes()


def test_workers_and_threads_fill_the_cores_unless_asked() -> None:
    from siamtrack.batch import plan_workers

    assert plan_workers(8, None, None) == (8, 1)
    assert plan_workers(8, None, 2) == (4, 2)
    assert plan_workers(8, 3, None) == (3, 2)
    assert plan_workers(2, None, 4) == (1, 4)
    assert plan_workers(2, 4, 2) == (4, 2)  # asked for: 8 threads on 2 cores


def test_the_plain_install_does_not_need_ray(videos: list[Video], tmp_path: Path) -> None:
    """Ray is an extra: importing the package and the batch module imports no Ray, and --engine ray without it
    says what to install."""
    from importlib.metadata import requires

    requirements = [r.replace("'", '"') for r in requires("siamtrack") or []]
    ray = [r for r in requirements if r.split(";")[0].strip().startswith("ray")]
    assert ray and all('extra == "ray"' in requirement for requirement in ray)
    manifest = write_manifest(tmp_path / "manifest.csv", videos[3].rows)
    probe = (
        "import sys, siamtrack, siamtrack.batch, siamtrack.batch._local, siamtrack.batch._worker\n"
        "print('ray' in sys.modules)\n"
        "sys.modules['ray'] = None\n"  # as if Ray were not installed
        "sys.exit(siamtrack.batch.main([sys.argv[1], '--out', sys.argv[2], '--engine', 'ray']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(manifest), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.splitlines()[0] == "False"
    assert result.returncode == 1
    assert 'pip install "siamtrack[ray]"' in result.stderr
