"""A time limit that libvips itself obeys.

A thread running libvips cannot be killed from outside, but libvips checks a per-image kill
flag whenever it computes a region of that image or of one derived from it. A job registers
the images it evaluates with `Deadline.watch`; when the deadline passes, the transform pool
calls `Deadline.expire` from the event loop, which sets their kill flags, so the running
operation fails within a tile and the thread returns to the pool. Nothing runs per tile:
libvips' progress signals, which would call back into Python for every batch of tiles,
stay off. Work that computes no regions (an encoder's own loop after the pixels were
computed, such as AV1 encoding) still runs to its end.
"""

from __future__ import annotations

import time
from typing import Any

from proxy.errors import TransformTimeout


class Deadline:
    """The monotonic time by which a transform must be done, and the images to stop then."""

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
        self._watched.append(image)
        # After the append: an `expire` running now has either seen the image or set the flag.
        if self.expired:
            image.set_kill(True)
        return image

    def expire(self) -> None:
        """Stop every watched image now; called once the deadline has passed."""
        self._expired = True
        for image in tuple(self._watched):
            image.set_kill(True)

    def release(self) -> None:
        """Forget the watched images once their thread has returned: they and the source
        bytes they keep alive are freed at once, not kept until the deadline's own end."""
        self._watched.clear()

    def check(self) -> None:
        """Raise TransformTimeout if the deadline has passed: between steps libvips does not see."""
        if self.expired:
            raise self.error()

    def error(self) -> TransformTimeout:
        return TransformTimeout(
            f"the transform took longer than {self.seconds:g} s and was stopped; retry later"
        )
