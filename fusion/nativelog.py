"""What C libraries write to stderr (FFmpeg, OpenCV), routed through gazefusion's logging.

FFmpeg (``[rtsp @ 0x…] method SETUP failed: 461``) and OpenCV (``[ WARN:0@…] … Stream
timeout``) write straight to file descriptor 2, past Python's ``sys.stderr``. `native_stderr_to_log`
points descriptor 2 at a pipe that a thread reads line by line into the ``gazefusion.native``
logger (INFO: shown with ``-v``), and gives Python's ``sys.stderr`` the real stderr back, so
stderr keeps gazefusion's own lines only. Credentials in a URL a library quotes are removed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import Final

log = logging.getLogger("gazefusion.native")

_USERINFO_IN_TEXT: Final = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@\s]*@")
_OWN_PREFIX: Final = b"gazefusion: "


def _writes_to_fd2(stream: object) -> bool:
    try:
        return stream is not None and stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


def _pump(read_fd: int, real_stderr_fd: int) -> None:
    """Log each line that arrives on the pipe until its write end closes."""
    with open(read_fd, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                _emit(line, real_stderr_fd)
        if pending:
            _emit(pending, real_stderr_fd)


def _emit(line: bytes, real_stderr_fd: int) -> None:
    text = line.rstrip(b"\r").decode("utf-8", errors="replace").strip()
    if not text:
        return
    if line.startswith(_OWN_PREFIX):  # a log handler bound to descriptor 2: pass through, never loop
        os.write(real_stderr_fd, line + b"\n")
        return
    log.info("%s", _USERINFO_IN_TEXT.sub(r"\1***@", text))


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Inside the block, what C code writes to descriptor 2 becomes ``gazefusion.native`` log records.

    Python's ``sys.stderr`` (if it wrote to descriptor 2) writes to the real stderr meanwhile, so
    gazefusion's own lines and log handlers made inside the block are not routed. On leaving,
    descriptor 2 is restored and what is left in the pipe is logged.
    """
    try:
        sys.stderr.flush()
        saved_fd = os.dup(2)
    except (OSError, AttributeError, ValueError):
        yield
        return
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    original = sys.stderr
    replaced = _writes_to_fd2(original)
    if replaced:
        # The real stderr for Python's own writes; left open after the block, for log handlers bound to it.
        sys.stderr = open(  # noqa: SIM115
            saved_fd,
            "w",
            encoding=getattr(original, "encoding", None) or "utf-8",
            errors="backslashreplace",
            buffering=1,
            closefd=False,
        )
    thread = threading.Thread(target=_pump, args=(read_fd, saved_fd), name="gazefusion-native-log", daemon=True)
    thread.start()
    try:
        yield
    finally:
        os.dup2(saved_fd, 2)  # the pipe's last write end closes: the thread drains it and ends
        thread.join(timeout=2.0)
        if replaced:
            sys.stderr.flush()
            sys.stderr = original
        else:
            os.close(saved_fd)
