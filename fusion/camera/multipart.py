"""A streaming parser for ``multipart/x-mixed-replace`` MJPEG: bytes in, JPEG parts out.

Pure (no I/O, no threads): fed the chunks a socket delivers, it returns each complete part as
soon as its last byte is in, so a frame is never held back until the next boundary arrives.
A part's end comes from its Content-Length when that is present and checks out (the part
starts with SOI and ends with EOI exactly there); otherwise, or when the Content-Length lies,
from the JPEG scanner. Garbage between parts is skipped, a part larger than the limit is
refused and the parser resynchronises on the next boundary. Work is linear in the bytes fed:
the buffer is searched only from where the previous search stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from gazefusion.fusion.camera.jpeg import INVALID, NEED_MORE, JpegScanner, looks_like_jpeg

_HEADER_END: Final = re.compile(rb"\n\r?\n")
_MAX_HEADER_BYTES: Final = 16 * 1024
_MAX_BOUNDARY_LINE: Final = 1024


@dataclass(frozen=True, slots=True)
class BadPart:
    """A part that was skipped, and why (counted as a corrupt frame by the source).

    Attributes
    ----------
    reason : str
        One of ``"oversize"``, ``"not a JPEG"``, ``"malformed JPEG"``, ``"truncated"``.
    size : int
        Bytes of the part known when it was refused.
    """

    reason: str
    size: int


def boundary_from_content_type(content_type: str) -> bytes | None:
    """The multipart boundary declared in a Content-Type header, without leading dashes.

    Parameters
    ----------
    content_type : str
        The header's value, e.g. ``multipart/x-mixed-replace; boundary="--frame"``.

    Returns
    -------
    bytes or None
        The boundary (quotes and leading ``--`` removed), or None if the type is not multipart
        or names no boundary.
    """
    if not content_type.lower().lstrip().startswith("multipart/"):
        return None
    match = re.search(r"boundary\s*=\s*(\"[^\"]*\"|[^;,\s]+)", content_type, re.IGNORECASE)
    if match is None:
        return None
    boundary = match.group(1).strip('"').lstrip("-").strip()
    return boundary.encode("latin-1") if boundary else None


class MultipartParser:
    """Splits an MJPEG byte stream into JPEG parts.

    Parameters
    ----------
    boundary : bytes or None
        The boundary without leading dashes (see `boundary_from_content_type`); the body's
        delimiter lines are found as ``--`` + boundary, so a header that declared the boundary
        with its dashes works too. None parses a bare stream of concatenated JPEGs.
    max_part_bytes : int
        Largest part accepted; larger ones are refused as `BadPart` ``"oversize"``.
        (default: 16000000)
    """

    def __init__(self, boundary: bytes | None, max_part_bytes: int = 16_000_000) -> None:
        self._delimiter = b"--" + boundary if boundary else None
        self._max_part_bytes = max_part_bytes
        self._buffer = bytearray()
        self._pos = 0  # where the current state's work starts
        self._state = "seek"  # seek -> headers -> body -> seek ...; "done" after the close delimiter
        self._part_start = 0
        self._length: int | None = None
        self._checked = 0  # while waiting for Content-Length bytes: searched for a delimiter up to here
        self._scanner = JpegScanner()
        self._scanning = False

    @property
    def buffered_bytes(self) -> int:
        """Bytes held that belong to no finished part yet."""
        return len(self._buffer) - self._pos

    @property
    def in_part(self) -> bool:
        """Whether the parser is inside a part (its headers or body) rather than between parts."""
        return self._state in ("headers", "body")

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes | BadPart]:
        """Take the next chunk of the stream.

        Parameters
        ----------
        data : bytes
            The bytes received, in order.

        Returns
        -------
        list of bytes or BadPart
            The JPEG parts completed by this chunk, in order, and the parts refused.
        """
        if self._state == "done":
            return []
        self._buffer += data
        out: list[bytes | BadPart] = []
        while self._step(out):
            pass
        self._compact()
        return out

    def close(self) -> BadPart | None:
        """End of stream: a part cut off in the middle, if there was one."""
        if self.in_part:
            return BadPart("truncated", len(self._buffer) - self._part_start)
        return None

    # -- the state machine; each step returns whether it made progress --------------------
    def _step(self, out: list[bytes | BadPart]) -> bool:
        if self._state == "seek":
            return self._seek()
        if self._state == "headers":
            return self._headers()
        if self._state == "body":
            return self._body(out)
        return False

    def _seek(self) -> bool:
        buffer = self._buffer
        if self._delimiter is None:
            found = buffer.find(b"\xff\xd8", self._pos)
            if found < 0:
                self._pos = max(self._pos, len(buffer) - 1)
                return False
            self._begin_body(found, None)
            return True
        found = buffer.find(self._delimiter, self._pos)
        if found < 0:
            self._pos = max(self._pos, len(buffer) - len(self._delimiter) + 1)
            return False
        line_end = buffer.find(b"\n", found + len(self._delimiter))
        if line_end < 0:
            if len(buffer) - found > _MAX_BOUNDARY_LINE:
                self._pos = found + 1  # not a delimiter line after all
                return True
            self._pos = found
            return False
        rest = buffer[found + len(self._delimiter) : line_end].strip()
        if rest.startswith(b"--"):
            self._state = "done"
            return False
        if rest:  # the delimiter string inside other text: keep looking
            self._pos = found + 1
            return True
        self._pos = line_end  # the header-end search starts at this LF (empty headers: "\n\r\n")
        self._state = "headers"
        return True

    def _headers(self) -> bool:
        buffer = self._buffer
        match = _HEADER_END.search(buffer, self._pos)
        if match is None:
            if len(buffer) - self._pos > _MAX_HEADER_BYTES:
                self._pos += 1
                self._state = "seek"
                return True
            return False
        length: int | None = None
        for line in bytes(buffer[self._pos : match.start()]).split(b"\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    length = None
                if length is not None and length < 0:
                    length = None
        self._begin_body(match.end(), length)
        return True

    def _begin_body(self, start: int, length: int | None) -> None:
        self._state = "body"
        self._part_start = start
        self._pos = start
        self._length = length
        self._checked = start
        self._scanner.reset()
        self._scanning = length is None

    def _body(self, out: list[bytes | BadPart]) -> bool:
        buffer = self._buffer
        start = self._part_start
        end = len(buffer)
        if not self._scanning:
            length = self._length
            assert length is not None
            if length > self._max_part_bytes:
                return self._refuse(out, "oversize", length, resume=start)
            if end < start + length:
                # The next part beginning, or the bytes so far ending in EOI, before Content-Length
                # says: it may lie, so let the markers decide (linear: only new bytes are looked at).
                ends_in_eoi = buffer.find(b"\xff\xd9", max(start, end - 4), end) >= 0
                if ends_in_eoi or (self._delimiter is not None and self._delimiter_before(start + length)):
                    self._scanning = True
                    return True
                return False
            stop = start + length
            while stop > start + 2 and buffer[stop - 1] in b"\r\n" and stop > start + length - 2:
                stop -= 1  # some cameras count the CRLF before the next boundary
            if looks_like_jpeg(buffer, start, stop):
                return self._emit(out, stop)
            self._scanning = True  # Content-Length lies: find the end by the markers
            return True
        result = self._scanner.scan(buffer, start, end)
        if result == NEED_MORE:
            if end - start > self._max_part_bytes:
                return self._refuse(out, "oversize", end - start, resume=end)
            return False
        if result == INVALID:
            reason = "malformed JPEG" if buffer[start : start + 2] == b"\xff\xd8" else "not a JPEG"
            return self._refuse(out, reason, end - start, resume=start + 1)
        if result - start > self._max_part_bytes:
            return self._refuse(out, "oversize", result - start, resume=result)
        return self._emit(out, result)

    def _delimiter_before(self, limit: int) -> bool:
        """Whether a delimiter line starts in the bytes arrived since the last look, before `limit`."""
        assert self._delimiter is not None
        search_from = max(self._part_start, self._checked - len(self._delimiter) - 2)
        found = self._buffer.find(b"\n" + self._delimiter, search_from, limit)
        self._checked = len(self._buffer)
        return found >= 0

    def _emit(self, out: list[bytes | BadPart], end: int) -> bool:
        with memoryview(self._buffer) as view:
            out.append(bytes(view[self._part_start : end]))
        self._pos = end
        self._state = "seek"
        return True

    def _refuse(self, out: list[bytes | BadPart], reason: str, size: int, resume: int) -> bool:
        out.append(BadPart(reason, size))
        self._pos = resume
        self._state = "seek"
        return True

    def _compact(self) -> None:
        """Drop consumed bytes (between parts only, so scanner offsets stay valid)."""
        keep_from = self._pos if self._state in ("seek", "headers") else self._part_start
        if keep_from > 65536 or keep_from == len(self._buffer):
            del self._buffer[:keep_from]
            self._pos -= keep_from
            self._part_start -= keep_from
            self._checked = max(0, self._checked - keep_from)
