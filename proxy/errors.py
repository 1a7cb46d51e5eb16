"""The one error hierarchy of pixgate.

Anything below the HTTP layer raises one of these; a single middleware turns them into a
status code and a short JSON body. Messages are shown to clients, so they never contain
secrets, paths of the host or tracebacks.
"""

from __future__ import annotations


class PixgateError(Exception):
    """Base of every error that becomes an HTTP response."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def headers(self) -> dict[str, str]:
        """Extra response headers this error asks for."""
        return {}


class BadRequest(PixgateError):
    status = 400
    code = "bad_request"


class Forbidden(PixgateError):
    status = 403
    code = "forbidden"


class NotFound(PixgateError):
    status = 404
    code = "not_found"


class TooLarge(PixgateError):
    status = 413
    code = "too_large"


class UnsupportedMedia(PixgateError):
    """Not an image pixgate reads (SVG, PDF, text, ...)."""

    status = 415
    code = "unsupported_format"


class UnsupportedCoding(UnsupportedMedia):
    """A format pixgate reads, coded in a way this build cannot decode (HEVC in HEIF
    without a decoder, 12-bit or hierarchical JPEG); the message names the coding."""


class Unprocessable(PixgateError):
    """A source pixgate will not render for a reason of its own (a TIFF directory past
    the bound, a libvips failure that is not the source's)."""

    status = 422
    code = "unprocessable"


class CorruptImage(Unprocessable):
    """Empty, truncated or damaged: the bytes claim a format they do not hold."""

    code = "corrupt_image"


class SourceTooLarge(Unprocessable):
    """More pixels than PIXGATE_MAX_SRC_PIXELS, known from the header before decoding."""

    code = "source_too_large"


class TooManyFrames(Unprocessable):
    """An uploaded animation with more frames than PIXGATE_MAX_UPLOAD_FRAMES."""

    code = "too_many_frames"


class AnimationTooLarge(Unprocessable):
    """An uploaded animation whose frames x canvas exceed PIXGATE_MAX_ANIMATION_PIXELS."""

    code = "animation_too_large"


class UpstreamError(PixgateError):
    status = 502
    code = "storage_error"


class Unavailable(PixgateError):
    """A dependency is down for now; clients should retry after a while."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 1, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Overloaded(Unavailable):
    code = "overloaded"


class TransformTimeout(Unavailable):
    """A transform ran past PIXGATE_TRANSFORM_TIMEOUT and was stopped."""

    code = "transform_timeout"


class UpstreamTimeout(PixgateError):
    status = 504
    code = "storage_timeout"


class NotReady(PixgateError):
    status = 503
    code = "not_ready"


class RoutingError(PixgateError):
    """aiohttp's own refusals (no such route, wrong method), carried in our JSON shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, code=f"http_{status}")
        self.status = status


class StartupError(Exception):
    """Not an answer to a request: a dependency a setting names (the database of
    PIXGATE_DATABASE_URL) cannot be used, so the command stops. The message names the
    variable and what it points at, never a secret; the command line prints it as it is."""
