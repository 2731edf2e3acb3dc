"""The batch's progress on stderr: on a terminal, one bar redrawn in place over the videos (and the frames, where
their counts are known); elsewhere (a log file, CI), one line per finished video."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Videos done out of `videos`, failures, and frames tracked out of `frames` (None: not known)."""

    def __init__(self, videos: int, frames: Optional[int], stream: Optional[TextIO] = None, enabled: bool = True):
        self.videos = videos
        self.frames = frames
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and self.stream.isatty()
        self.done = 0
        self.failed = 0
        self.frames_done = 0
        self._started = time.monotonic()
        self._drawn = 0.0
        self._width = 0

    def update(self, frames_done: int) -> None:
        """The frames tracked so far (finished videos' and running ones'); redraws at most 5 times a second."""
        self.frames_done = frames_done
        if self.tty and time.monotonic() - self._drawn >= 0.2:
            self._draw()

    def finished(self, name: str, ok: bool, detail: str, frames_done: int) -> None:
        """A video is done (`ok`, or failed; `detail` says how)."""
        self.done += 1
        self.failed += 0 if ok else 1
        self.frames_done = frames_done
        if not self.enabled:
            return
        if self.tty:
            if not ok:
                self._clear()
                print(f"{name}: {detail}", file=self.stream)
            self._draw()
        else:
            print(f"[{self.done}/{self.videos}] {name}: {detail}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """A line that stays (a retried video, a warning)."""
        if not self.enabled:
            return
        self._clear()
        print(text, file=self.stream, flush=True)
        if self.tty:
            self._draw()

    def close(self) -> None:
        """Leaves the last bar on its own line."""
        if self.tty:
            self._draw()
            print(file=self.stream, flush=True)
            self.tty = False

    def _clear(self) -> None:
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")

    def _draw(self) -> None:
        self._drawn = time.monotonic()
        elapsed = max(self._drawn - self._started, 1e-9)
        share = self.done / self.videos if self.videos else 1.0
        if self.frames:
            share = min(self.frames_done / self.frames, 1.0)
        filled = int(round(30 * share))
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.videos} videos"
        if self.failed:
            line += f" ({self.failed} failed)"
        line += f"  {self.frames_done}" + (f"/{self.frames}" if self.frames else "") + " frames"
        line += f"  {self.frames_done / elapsed:.0f} fps  {_duration(elapsed)}"
        if 0.0 < share < 1.0:
            line += f"  eta {_duration(elapsed * (1.0 - share) / share)}"
        self._clear()
        self._width = len(line)
        self.stream.write("\r" + line)
        self.stream.flush()
