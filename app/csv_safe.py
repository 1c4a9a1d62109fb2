"""Formula-injection-safe, streaming CSV for the exports (pure: builds strings and bytes only).

The issue asks for UTF-8 CSV with a header row that is formula-injection safe per OWASP
("CSV Injection"): no cell may begin with ``=``, ``+``, ``-``, ``@``, tab, carriage return or
line feed as a live formula, quotes and separators are escaped, and the text stays readable.

Choices, and why:

- **Text cells** that begin with a formula starter get one leading ``'`` (OWASP's advice): a
  spreadsheet then shows the text instead of evaluating it, and a reader can still read it.
  Text that already begins with ``'`` gets one too, so the rule can be undone without
  guessing: :func:`unescape_cell` drops exactly one leading ``'``.
- **Numbers** (real ``int``/``float``/``Decimal`` values, never ``str``) are written plainly:
  ``-3`` is a number we produce, and a spreadsheet reads it as a constant, not a formula.
  Non-finite values (``-inf``, ``NaN``) are not numbers to a spreadsheet (``-inf`` would be a
  formula), so they take the text path.
- **Quoting:** ``QUOTE_ALL``, OWASP's recipe (wrap every field in double quotes, double any
  inner quote). Separators, quotes and line breaks inside a cell then never depend on which
  characters trigger quoting; it costs two bytes a cell. Quoting alone does not stop a
  spreadsheet from evaluating a formula, which is why the ``'`` prefix is still needed.
- **Line endings:** ``\\r\\n`` (RFC 4180).
- **BOM:** the first chunk begins with one U+FEFF (the UTF-8 BOM once encoded), because Excel
  opens BOM-less CSV in the legacy code page and mangles non-ASCII names. ``bom=False`` drops it.
- **NUL:** kept as is. Python 3.11's ``csv`` module writes and reads ``\\x00`` back exactly
  (3.10 and older raised "line contains NUL"; the project requires 3.11), so no value is lossy.
- **Memory:** rows go to a small ``io.StringIO`` that is emptied after every batch, so memory
  depends on the batch size, not on the row count.

A file read with a different separator than ``,`` (e.g. Excel in a semicolon locale) is
re-split by that reader inside our cells; no per-cell prefix can protect text it invents.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum

__all__ = [
    "BOM",
    "FORMULA_STARTERS",
    "acsv_rows",
    "csv_rows",
    "safe_cell",
    "unescape_cell",
]

# OWASP's list of characters that make a spreadsheet treat a cell as a formula.
FORMULA_STARTERS: frozenset[str] = frozenset("=+-@\t\r\n")
# The escape character itself: text beginning with it is escaped too, so unescaping is exact.
_ESCAPE = "'"
_NEEDS_ESCAPE: frozenset[str] = FORMULA_STARTERS | {_ESCAPE}

BOM = "\ufeff"


class _Dialect(csv.Dialect):
    """RFC 4180 framing with every field quoted (see the module docstring)."""

    delimiter = ","
    quotechar = '"'
    doublequote = True
    escapechar = None
    lineterminator = "\r\n"
    quoting = csv.QUOTE_ALL
    skipinitialspace = False
    strict = True


def _safe_text(text: str) -> str:
    # Exactly the first character decides: that is what a spreadsheet looks at.
    if text and text[0] in _NEEDS_ESCAPE:
        return _ESCAPE + text
    return text


def safe_cell(value: object) -> str:
    """The CSV text for one value; text can never begin with a live formula."""
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, str):  # StrEnum members included: str() gives their value
        return _safe_text(str(value))
    if isinstance(value, Enum):
        return safe_cell(value.value)
    if isinstance(value, int):
        return str(int(value))  # int(): an int subclass's own __str__ could print anything
    if isinstance(value, float):
        number = float(value)
        # repr is the shortest exact form; -inf/nan are not numbers to a spreadsheet.
        return repr(number) if math.isfinite(number) else _safe_text(repr(number))
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else _safe_text(str(value))
    if isinstance(value, datetime):  # before date: datetime is a date subclass
        if value.tzinfo is None or value.utcoffset() is None:
            # Same rule as the tables: a naive time would be a guess at the district's zone.
            raise ValueError("naive datetime given; CSV exports write aware UTC timestamps")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    # Anything else (UUIDs, ...) is written as its text, through the same escape.
    return _safe_text(str(value))


def unescape_cell(text: str) -> str:
    """Undo :func:`safe_cell` for a text value read back from the CSV."""
    return text[1:] if text.startswith(_ESCAPE) else text


class _Batcher:
    """Formats rows into a reusable buffer; ``drain`` hands the text out and empties it."""

    def __init__(self, width: int) -> None:
        self._width = width
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, dialect=_Dialect)
        self.pending = 0

    def write(self, row: Sequence[object], number: int) -> None:
        # A str is a Sequence too; writing it would spread its characters over the columns.
        if isinstance(row, str | bytes):
            raise TypeError(f"row {number} is a string, not a sequence of cells")
        if len(row) != self._width:
            raise ValueError(f"row {number} has {len(row)} cells; the header has {self._width}")
        self._writer.writerow([safe_cell(value) for value in row])
        self.pending += 1

    def drain(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate(0)
        self.pending = 0
        return text


def _start(header: Sequence[str], batch: int, bom: bool) -> tuple[_Batcher, str]:
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if isinstance(header, str | bytes) or not header:
        raise ValueError("header must be a non-empty sequence of column names")
    batcher = _Batcher(len(header))
    batcher.write(header, 0)
    return batcher, (BOM if bom else "") + batcher.drain()


def csv_rows(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    batch: int = 500,
    *,
    bom: bool = True,
) -> Iterator[str]:
    """The CSV as text chunks: BOM and header first, then up to ``batch`` rows per chunk.

    Every chunk ends on a row boundary. Joined, the chunks are the whole file.
    """
    batcher, first = _start(header, batch, bom)
    # The header goes out before the first row is fetched, so a response can start at once.
    yield first
    for number, row in enumerate(rows, start=1):
        batcher.write(row, number)
        if batcher.pending >= batch:
            yield batcher.drain()
    if batcher.pending:
        yield batcher.drain()


async def acsv_rows(
    header: Sequence[str],
    rows: AsyncIterable[Sequence[object]],
    batch: int = 500,
    *,
    bom: bool = True,
) -> AsyncIterator[bytes]:
    """:func:`csv_rows` for an async row source, as UTF-8 bytes for a streaming response."""
    batcher, first = _start(header, batch, bom)
    yield first.encode("utf-8")
    number = 0
    async for row in rows:
        number += 1
        batcher.write(row, number)
        if batcher.pending >= batch:
            yield batcher.drain().encode("utf-8")
    if batcher.pending:
        yield batcher.drain().encode("utf-8")
