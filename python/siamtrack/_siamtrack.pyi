"""siamtrack's tracking core: `Tracker`, `MultiTracker` and `Track`."""

import os
from typing import Any, Final, Sequence, SupportsFloat, Tuple, Union, final

import numpy as np
import numpy.typing as npt

_Frame = npt.NDArray[np.uint8]
_Box = Union[Sequence[SupportsFloat], npt.NDArray[Any]]
_Model = Union[str, os.PathLike[str], None]

__all__ = [
    "Track",
    "Tracker",
    "MultiTracker",
    "set_runtime_library",
    "_reads_in_place",
    "SHIPPED_MODELS",
    "DEFAULT_MODEL",
    "__version__",
]

SHIPPED_MODELS: Final[Tuple[str, ...]]
DEFAULT_MODEL: Final[str]
__version__: Final[str]

@final
class Track:
    """One target's place in one frame: box, score, state and id."""

    @property
    def x(self) -> float: ...
    @property
    def y(self) -> float: ...
    @property
    def w(self) -> float: ...
    @property
    def h(self) -> float: ...
    @property
    def score(self) -> float: ...
    @property
    def state(self) -> str: ...
    @property
    def id(self) -> int: ...
    @property
    def bbox(self) -> Tuple[float, float, float, float]: ...
    def __new__(
        cls,
        x: float,
        y: float,
        w: float,
        h: float,
        score: float = 1.0,
        state: str = "tracking",
        id: int = 1,
    ) -> "Track": ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Tracker:
    """A single-target tracker with OpenCV's tracker interface (`cv2.Tracker`)."""

    def __new__(
        cls, model: _Model = None, threads: int = 0, device: str = "cpu", color: str = "bgr"
    ) -> "Tracker": ...
    def init(self, frame: _Frame, bbox: _Box) -> None: ...
    def update(self, frame: _Frame) -> Tuple[bool, Tuple[float, float, float, float]]: ...
    def track(self, frame: _Frame) -> Track: ...
    def recentre(self, centre: Tuple[float, float]) -> None: ...
    def getTrackingScore(self) -> float: ...
    @property
    def model(self) -> str: ...
    @property
    def device(self) -> str: ...

@final
class MultiTracker:
    """Several targets over one encoder, ids 1, 2, ... in the order added."""

    def __new__(
        cls, model: _Model = None, threads: int = 0, device: str = "cpu", color: str = "bgr"
    ) -> "MultiTracker": ...
    def add(self, frame: _Frame, bbox: _Box) -> int: ...
    def remove(self, id: int) -> None: ...
    def update(self, frame: _Frame) -> list[Track]: ...
    @property
    def ids(self) -> list[int]: ...
    def __len__(self) -> int: ...
    @property
    def model(self) -> str: ...
    @property
    def device(self) -> str: ...

def set_runtime_library(path: Union[str, os.PathLike[str]]) -> None: ...
def _reads_in_place(frame: _Frame) -> bool: ...
