"""The extension links neither OpenCV nor ONNX Runtime; ONNX Runtime is loaded from the onnxruntime wheel
(found without importing it) or from ORT_DYLIB_PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import siamtrack
from siamtrack import _siamtrack

EXTENSION = Path(_siamtrack.__file__)

# Prints the ONNX Runtime library mapped into the process after a tracker is made, and whether onnxruntime
# was imported.
PROBE = """
import sys, siamtrack
siamtrack.Tracker()
maps = open("/proc/self/maps").read().split()
print(sorted({p for p in maps if "libonnxruntime.so" in p}))
print("onnxruntime" in sys.modules)
"""


def probe(env: dict[str, str]) -> tuple[str, str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    libraries, imported = result.stdout.strip().split("\n")
    return libraries, imported


def test_one_abi3_extension() -> None:
    assert EXTENSION.name == "_siamtrack.abi3.so"


@pytest.mark.skipif(shutil.which("ldd") is None, reason="ldd is not installed")
def test_the_extension_links_no_opencv_and_no_onnx_runtime() -> None:
    linked = subprocess.run(["ldd", str(EXTENSION)], capture_output=True, text=True, check=True).stdout
    assert "libc.so" in linked  # ldd did read it
    for name in ("opencv", "onnxruntime", "libpython"):
        assert name not in linked, linked


def test_the_runtime_comes_from_the_onnxruntime_wheel() -> None:
    library = siamtrack._runtime_library()
    assert library is not None, "the onnxruntime package holds no libonnxruntime.so"
    assert library.parent.name == "capi" and library.parent.parent.name == "onnxruntime"
    assert library.name.startswith("libonnxruntime.so")
    env = {k: v for k, v in os.environ.items() if k != "ORT_DYLIB_PATH"}
    libraries, imported = probe(env)
    assert libraries == str([str(library)])
    assert imported == "False"


def test_ort_dylib_path_names_another_library(tmp_path: Path) -> None:
    library = siamtrack._runtime_library()
    assert library is not None
    elsewhere = tmp_path / "lib" / "libonnxruntime.so.1"
    elsewhere.parent.mkdir()
    shutil.copy(library, elsewhere)
    libraries, imported = probe({**os.environ, "ORT_DYLIB_PATH": str(elsewhere)})
    assert libraries == str([str(elsewhere)])
    assert imported == "False"


def test_a_missing_runtime_says_how_to_get_one(tmp_path: Path) -> None:
    env = {**os.environ, "ORT_DYLIB_PATH": str(tmp_path / "libonnxruntime.so")}
    result = subprocess.run(
        [sys.executable, "-c", "import siamtrack; siamtrack.Tracker()"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 1
    assert "RuntimeError" in result.stderr and "libonnxruntime.so not found" in result.stderr
