"""Issue: CSV exports are UTF-8 with a header row and formula-injection safe per OWASP.

- No cell may begin with ``=``, ``+``, ``-``, ``@``, tab, CR or LF as a live formula; quotes and
  separators are escaped; the original text stays readable.
- Property: hostile strings (formula starters, quotes, separators, newlines, NUL, non-ASCII)
  go through the writer and are parsed back: every value round-trips as text (NUL included:
  Python 3.11's csv keeps it, so there is no lossy case) and none can start a formula.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator, Coroutine, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.csv_safe import BOM, acsv_rows, csv_rows, safe_cell, unescape_cell
from models.enums import Level

T = TypeVar("T")

# Spelled out here rather than imported, so the test does not trust the module's own list.
OWASP_STARTERS = ("=", "+", "-", "@", "\t", "\r", "\n")

HOSTILE_PIECES = [
    *OWASP_STARTERS,
    "\r\n",
    "'",
    "''",
    '"',
    '""',
    ",",
    ";",
    "|",
    " ",
    "\x00",
    "é",
    "漢字",
    "😀",
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\ufeff",  # a BOM inside the data must not be confused with ours
    "=1+1",
    '=HYPERLINK("http://evil.example","click")',
    "=cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "+41 79 555",
    "-2+3",
    "'=1+1",
]

hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=4)), max_size=6
).map("".join)
cell_text = st.one_of(hostile_text, st.text())


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    width = draw(st.integers(min_value=1, max_value=5))
    row = st.lists(cell_text, min_size=width, max_size=width)
    return draw(row), draw(st.lists(row, max_size=6))


def parse(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    # newline="" so the reader, not the text layer, sees CR/LF inside quoted cells.
    return list(csv.reader(io.StringIO(text[len(BOM) :], newline="")))


def write(header: Sequence[str], rows: Sequence[Sequence[object]], batch: int = 500) -> str:
    return "".join(csv_rows(header, rows, batch))


def assert_not_a_formula(cell: str) -> None:
    assert not cell.startswith(OWASP_STARTERS), repr(cell)


async def aiter_of(rows: Sequence[T], pause: bool = False) -> AsyncIterator[T]:
    for row in rows:
        if pause:
            await asyncio.sleep(0)  # hand control to the loop, like a real database cursor
        yield row


async def collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


def run_without_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (an in-memory source); no event loop is touched."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("the coroutine suspended; use an event loop")


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=500)
@given(tables(), st.integers(min_value=1, max_value=4))
def test_hostile_text_round_trips_and_never_starts_a_formula(
    table: tuple[list[str], list[list[str]]], batch: int
) -> None:
    header, rows = table
    parsed = parse(write(header, rows, batch))
    assert len(parsed) == 1 + len(rows)
    for original, read_back in zip([header, *rows], parsed, strict=True):
        for cell in read_back:
            assert_not_a_formula(cell)
        assert [unescape_cell(cell) for cell in read_back] == original


numbers = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
)
any_value = st.one_of(cell_text, numbers, st.none(), st.booleans())
# A cell we write from a number: a spreadsheet reads it as a constant, not a formula.
NUMBER_LITERAL = re.compile(r"-?\d+(\.\d*)?([eE][-+]?\d+)?")


@settings(max_examples=300)
@given(st.lists(st.lists(any_value, min_size=3, max_size=3), max_size=6))
def test_mixed_values_start_a_formula_only_as_plain_numbers(rows: list[list[object]]) -> None:
    parsed = parse(write(["a", "b", "c"], rows))
    for original, read_back in zip(rows, parsed[1:], strict=True):
        for value, cell in zip(original, read_back, strict=True):
            if cell.startswith(OWASP_STARTERS):
                assert not isinstance(value, str), (value, cell)
                assert NUMBER_LITERAL.fullmatch(cell), (value, cell)
            if isinstance(value, str):
                assert unescape_cell(cell) == value


@settings(max_examples=200)
@given(tables(), st.integers(min_value=1, max_value=4))
def test_async_bytes_decode_to_the_sync_text(
    table: tuple[list[str], list[list[str]]], batch: int
) -> None:
    header, rows = table
    chunks = run_without_loop(collect(acsv_rows(header, aiter_of(rows), batch)))
    assert all(isinstance(chunk, bytes) for chunk in chunks)
    assert b"".join(chunks).decode("utf-8") == write(header, rows, batch)


# --- examples -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("-3", "'-3"),
        ("+3", "'+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\nx", "'\nx"),
        ("'quoted", "''quoted"),
        ("plain", "plain"),
        ("a=b", "a=b"),  # only the first character matters
        (" =1+1", " =1+1"),  # not on OWASP's list; a spreadsheet shows it as text
        ("", ""),
        (-3, "-3"),
        (3, "3"),
        (-1.5, "-1.5"),
        (Decimal("-2.50"), "-2.50"),
        (float("-inf"), "'-inf"),
        (float("nan"), "nan"),
        (Decimal("-Infinity"), "'-Infinity"),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (Level.FLUENCY, "FLUENCY"),
        (date(2025, 3, 4), "2025-03-04"),
        (datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC), "2025-03-04T05:06:07+00:00"),
        (
            datetime(2025, 3, 4, 7, 6, 7, tzinfo=timezone(timedelta(hours=2))),
            "2025-03-04T05:06:07+00:00",
        ),
    ],
)
def test_safe_cell(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        safe_cell(datetime(2025, 3, 4))


@pytest.mark.parametrize("text", ["'quoted", "''", "'", "'=1+1", "=1+1", "x'"])
def test_quote_prefixed_text_round_trips(text: str) -> None:
    assert unescape_cell(safe_cell(text)) == text
    assert parse(write(["h"], [[text]]))[1] == [safe_cell(text)]


def test_separators_quotes_and_newlines_are_quoted() -> None:
    text = write(["name", "note"], [["a,b", 'say "hi"'], ["line1\r\nline2", "x;y\n"]])
    assert text == (f'{BOM}"name","note"\r\n"a,b","say ""hi"""\r\n"line1\r\nline2","x;y\n"\r\n')


def test_nul_round_trips() -> None:
    assert parse(write(["h"], [["a\x00b"], ["\x00"]]))[1:] == [["a\x00b"], ["\x00"]]


def test_header_goes_through_safe_cell() -> None:
    assert parse(write(["=cmd", "name"], []))[0] == ["'=cmd", "name"]


def test_bom_once_then_rows_in_batches() -> None:
    chunks = list(csv_rows(["n"], [[i] for i in range(5)], 2))
    assert chunks == [f'{BOM}"n"\r\n', '"0"\r\n"1"\r\n', '"2"\r\n"3"\r\n', '"4"\r\n']
    assert "".join(chunks).count(BOM) == 1
    assert "".join(csv_rows(["n"], [], bom=False)) == '"n"\r\n'


def test_rows_must_match_the_header() -> None:
    with pytest.raises(ValueError, match="row 2 has 1 cells"):
        list(csv_rows(["a", "b"], [[1, 2], [3]]))
    with pytest.raises(TypeError, match="string"):
        list(csv_rows(["a", "b"], ["ab"]))
    with pytest.raises(ValueError, match="header"):
        list(csv_rows([], []))
    with pytest.raises(ValueError, match="batch"):
        list(csv_rows(["a"], [], 0))


async def test_async_variant_streams_utf8_bytes_like_the_sync_one() -> None:
    rows: list[list[object]] = [["Zoë", "=1+1"], ["漢字", -3], ["😀", None]]
    chunks = await collect(acsv_rows(["name", "value"], aiter_of(rows, pause=True), 2))
    assert chunks[0].startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM, once
    assert b"".join(chunks).count(b"\xef\xbb\xbf") == 1
    assert len(chunks) == 3  # header, then two batches
    assert b"".join(chunks).decode("utf-8") == write(["name", "value"], rows, 2)
