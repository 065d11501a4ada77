"""Tab-separated tables (docs/formats/tables.md): header row, one row per item, numbers plain.

Writers flush every row (or every `flush_every_s`) so a killed run loses at most the last
second. Readers stream rows one at a time, so huge files are never loaded whole, and read a
truncated last line back as what it is: an incomplete row, skipped and counted.
Floats are written in their shortest round-trip form, so a table read back gives the very
same numbers (replay depends on it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from gazefusion.fusion.errors import FileFormatError


def format_cell(value: Any) -> str:
    """Format one value for a table cell: plain numbers, ``nan``, 1/0 for booleans, "" for None."""
    if type(value) is float:  # most cells: the checks below give the same, a third slower
        return "nan" if value != value else repr(value)
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return "nan" if math.isnan(value) else repr(value)
    text = str(value)
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    return text


class TableWriter:
    """Append rows to a TSV file, flushing as it goes.

    Parameters
    ----------
    path : str or pathlib.Path
        File to create (truncated if it exists, unless `append`).
    columns : Sequence[str]
        Header, written once.
    flush_every_s : float
        Flush to the OS at most this often; 0 flushes every row. (default: 0.0)
    append : bool
        Append to an existing file instead of truncating; the header is written only when
        the file is new or empty. (default: False)
    """

    def __init__(
        self,
        path: str | Path,
        columns: Sequence[str],
        flush_every_s: float = 0.0,
        append: bool = False,
    ) -> None:
        self.path = Path(path)
        self.columns = tuple(columns)
        self.flush_every_s = flush_every_s
        self.rows_written = 0
        exists = append and self.path.exists() and self.path.stat().st_size > 0
        self._file: IO[str] | None = open(self.path, "a" if append else "w", encoding="utf-8", newline="\n")
        self._last_flush = time.monotonic()
        if not exists:
            self._file.write("\t".join(self.columns) + "\n")
            self._file.flush()

    def write(self, row: Sequence[Any] | dict[str, Any]) -> None:
        """Write one row, given in column order or as a mapping (missing keys stay empty)."""
        if self._file is None:
            raise ValueError(f"table {self.path} is closed")
        if isinstance(row, dict):
            cells = [format_cell(row.get(name)) for name in self.columns]
        else:
            if len(row) != len(self.columns):
                raise ValueError(f"row has {len(row)} cells, table {self.path.name} has {len(self.columns)} columns")
            cells = [format_cell(value) for value in row]
        self._file.write("\t".join(cells) + "\n")
        self.rows_written += 1
        now = time.monotonic()
        if now - self._last_flush >= self.flush_every_s:
            self._file.flush()
            self._last_flush = now

    def flush(self) -> None:
        """Flush buffered rows to the OS."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close; safe to call more than once."""
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TableReader:
    """Stream the rows of a TSV file as dicts of strings.

    Parameters
    ----------
    path : str or pathlib.Path
        The table.
    required : Sequence[str]
        Columns that must be in the header; the error names the missing ones. (default: ())

    Attributes
    ----------
    columns : tuple[str, ...]
        The header.
    truncated_rows : int
        Rows skipped because they had fewer cells than the header (a cut-off last line).
    """

    def __init__(self, path: str | Path, required: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.truncated_rows = 0
        try:
            self._file: IO[str] = open(self.path, encoding="utf-8", errors="replace", newline="")
        except FileNotFoundError:
            raise FileFormatError(f"file not found: {self.path}") from None
        except IsADirectoryError:
            raise FileFormatError(f"expected a file, got a folder: {self.path}") from None
        except OSError as exc:
            raise FileFormatError(f"cannot read {self.path}: {exc.strerror}") from None
        header = self._file.readline()
        if not header.strip():
            self._file.close()
            raise FileFormatError(f"{self.path} is empty: expected a tab-separated header row")
        self.columns = tuple(name.strip() for name in header.rstrip("\r\n").split("\t"))
        missing = [name for name in required if name not in self.columns]
        if missing:
            self._file.close()
            raise FileFormatError(
                f"{self.path} lacks the column(s) {', '.join(missing)}; it has {', '.join(self.columns)}"
            )

    def __iter__(self) -> Iterator[dict[str, str]]:
        n = len(self.columns)
        try:
            for line in self._file:
                if not line.endswith("\n"):
                    # A cut-off last line: keep it only if every cell arrived.
                    cells = line.split("\t")
                    if len(cells) < n or not line.strip():
                        self.truncated_rows += 1 if line.strip() else 0
                        break
                line = line.rstrip("\r\n")
                if not line:
                    continue
                cells = line.split("\t")
                if len(cells) < n:
                    self.truncated_rows += 1
                    continue
                yield dict(zip(self.columns, cells))
        finally:
            self._file.close()

    def close(self) -> None:
        """Close the file early."""
        self._file.close()


def parse_float(text: str, column: str, line_hint: str = "") -> float:
    """Parse a numeric cell; ``nan``, ``NaN`` and "" are nan; anything else non-numeric is an error.

    Parameters
    ----------
    text : str
        The cell.
    column : str
        Its column, for the error message.
    line_hint : str
        Where it is (file and row), for the error message. (default: "")
    """
    text = text.strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        where = f" ({line_hint})" if line_hint else ""
        raise FileFormatError(f"column {column}: {text!r} is not a number{where}") from None
