"""A time limit that libvips itself obeys.

A thread running libvips cannot be killed from outside, but libvips checks a per-image kill
flag whenever it computes a region, and reports progress through the ``eval`` signal while
an image is evaluated. `Deadline.watch` connects to that signal and sets the kill flag once
the deadline has passed, so the running operation fails within a tile or two and the thread
returns to the pool. Work libvips does not report progress for (an encoder's own loop after
the pixels were computed, such as AV1 encoding) still runs to its end.
"""

from __future__ import annotations

import time
from typing import Any

from proxy.errors import TransformTimeout


class Deadline:
    """The monotonic time by which a transform must be done.

    Keeps every watched image alive: pyvips drops a signal handler with the Python object it
    was connected on, and a later signal would then reach freed memory.
    """

    __slots__ = ("_expired", "_watched", "at", "seconds")

    def __init__(self, seconds: float, *, now: float | None = None) -> None:
        self.seconds = seconds
        self.at = (time.monotonic() if now is None else now) + seconds
        self._expired = False
        self._watched: list[Any] = []

    @property
    def expired(self) -> bool:
        """True once the deadline has passed (and so the watched work was, or will be, killed)."""
        if not self._expired and time.monotonic() >= self.at:
            self._expired = True
        return self._expired

    def watch(self, image: Any) -> Any:
        """Make the evaluation of `image`, and of every image later derived from it, stop with
        a libvips error once the deadline passes. Returns `image`."""
        image.set_progress(True)
        image.signal_connect("eval", self._on_eval)
        self._watched.append(image)
        return image

    def release(self) -> None:
        """Forget the watched images once their thread has returned (no `eval` can come then).

        Each image's handler holds this deadline, so keeping them here would be a reference
        cycle: every request's images, and the source bytes they keep alive, would wait for
        Python's cyclic collector (measured: 24 MP renders held ~6 MB each, 437 MB peak)."""
        self._watched.clear()

    def check(self) -> None:
        """Raise TransformTimeout if the deadline has passed: between steps libvips does not see."""
        if self.expired:
            raise self.error()

    def error(self) -> TransformTimeout:
        return TransformTimeout(
            f"the transform took longer than {self.seconds:g} s and was stopped; retry later"
        )

    def _on_eval(self, image: Any, progress: Any) -> None:
        # Runs in libvips' evaluating thread, once per batch of tiles.
        if self.expired:
            image.set_kill(True)
