"""Where a JPEG ends: a segment-walking scanner for JPEG streams without Content-Length.

The first end-of-image marker (FFD9) after a start-of-image (FFD8) is not always the frame's
end: an EXIF thumbnail inside the APP1 segment is a whole JPEG with its own SOI and EOI. The
scanner therefore walks the header segments by their lengths (skipping any thumbnail), and
only in the entropy-coded data after a start-of-scan (SOS) looks for markers, where FF00 is a
stuffed data byte and FFD0–FFD7 are restart markers. Progressive JPEGs (several scans with
tables between them) are followed back into segment walking.

The scanner is incremental: fed a growing buffer, it resumes where it stopped, so a frame that
arrives in many chunks is scanned once (linear, never re-scanned from its start).
"""

from __future__ import annotations

import re
from typing import Final

SOI: Final = b"\xff\xd8"
EOI: Final = b"\xff\xd9"

NEED_MORE: Final = -1
"""`JpegScanner.scan` result: the buffer ends before the JPEG does."""
INVALID: Final = -2
"""`JpegScanner.scan` result: the bytes are not a well-formed JPEG."""

# In entropy-coded data: FF followed by anything but 00 (stuffing), D0–D7 (restart) or FF (fill).
_MARKER_IN_SCAN: Final = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_SOS: Final = 0xDA
_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})


class JpegScanner:
    """Finds the end of the JPEG that starts at a given offset of a growing buffer.

    Call `scan` with the same buffer and start as more bytes arrive; the scanner keeps its
    position relative to `start`, so the buffer may be compacted between calls as long as the
    JPEG's first byte stays at the `start` passed in.
    """

    __slots__ = ("_offset", "_in_scan")

    def __init__(self) -> None:
        self._offset = 0
        self._in_scan = False

    def reset(self) -> None:
        """Forget the JPEG scanned so far; the next `scan` starts at a new SOI."""
        self._offset = 0
        self._in_scan = False

    def scan(self, buffer: bytes | bytearray | memoryview, start: int = 0, end: int | None = None) -> int:
        """Scan on from where the last call stopped.

        Parameters
        ----------
        buffer : bytes or bytearray
            The bytes received so far; the JPEG starts at `start`.
        start : int
            Offset of the JPEG's SOI in `buffer`. (default: 0)
        end : int or None
            Offset one past the last valid byte; None for ``len(buffer)``. (default: None)

        Returns
        -------
        int
            The offset one past the JPEG's EOI in `buffer`, or `NEED_MORE`, or `INVALID`.
        """
        end = len(buffer) if end is None else end
        if self._offset == 0:
            if end - start < 2:
                return NEED_MORE
            if buffer[start] != 0xFF or buffer[start + 1] != 0xD8:
                return INVALID
            self._offset = 2
        pos = start + self._offset
        while True:
            if self._in_scan:
                match = _MARKER_IN_SCAN.search(buffer, pos, end)
                if match is None:
                    # A trailing FF may be the first half of a marker: look at it again next time.
                    self._offset = max(pos, end - 1) - start
                    return NEED_MORE
                marker_pos = match.start()
                if buffer[marker_pos + 1] == 0xD9:
                    return marker_pos + 2
                self._in_scan = False  # tables or another scan of a progressive JPEG
                pos = marker_pos
                continue
            if pos + 2 > end:
                self._offset = pos - start
                return NEED_MORE
            if buffer[pos] != 0xFF:
                return INVALID
            marker = buffer[pos + 1]
            if marker == 0xFF:  # fill byte before a marker
                pos += 1
                continue
            if marker == 0xD9:
                return pos + 2
            if marker in _STANDALONE:
                pos += 2
                continue
            if marker == 0xD8 or marker == 0x00:
                return INVALID
            if pos + 4 > end:
                self._offset = pos - start
                return NEED_MORE
            length = (buffer[pos + 2] << 8) | buffer[pos + 3]
            if length < 2:
                return INVALID
            pos += 2 + length
            if marker == _SOS:
                self._in_scan = True
            if pos > end:
                self._offset = pos - start
                return NEED_MORE


def jpeg_end(data: bytes | bytearray, start: int = 0) -> int | None:
    """The offset one past the EOI of the complete JPEG at `start`, or None if there is none.

    Parameters
    ----------
    data : bytes or bytearray
        Bytes holding a JPEG at `start`.
    start : int
        Offset of the SOI. (default: 0)
    """
    result = JpegScanner().scan(data, start)
    return result if result >= 0 else None


def looks_like_jpeg(data: bytes | bytearray | memoryview, start: int, end: int) -> bool:
    """Whether ``data[start:end]`` starts with SOI and ends with EOI (a cheap framing check)."""
    return (
        end - start >= 4
        and data[start] == 0xFF
        and data[start + 1] == 0xD8
        and data[end - 2] == 0xFF
        and data[end - 1] == 0xD9
    )
