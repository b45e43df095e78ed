"""Counting the solutions of a SELECT answer while the engine serialises it, for the row limit.

pyoxigraph writes a whole answer in one native call, so the rows are counted in the bytes it
writes, chunk by chunk, from how each results format marks a row: a line in TSV and CSV (outside
quoted fields), a ``<result>`` element in XML, an object of the ``bindings`` array in JSON
(outside strings). Pieces that may continue in the next chunk (an open string, the last bytes) are
carried over, so a chunk boundary never changes the count.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: A complete JSON string, or the opening quote of one that the chunk cuts (carried to the next).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"|"')
#: A complete CSV quoted field, or an opening quote cut by the chunk.
_CSV_FIELD = re.compile(rb'"(?:[^"]|"")*"(?!")|"')


class RowCounter:
    """``feed`` the answer's bytes in order; ``rows`` is the number of solutions seen so far."""

    def __init__(self, marks: tuple[bytes, ...], quoted: re.Pattern[bytes] | None, header_rows: int) -> None:
        self.marks, self.quoted, self.header_rows = marks, quoted, header_rows
        self._seen = 0
        self._open = b""  # a quoted piece that has not ended yet
        self._tail = b""  # the last bytes outside quotes, where a mark may begin
        self._keep = max(len(m) for m in marks) - 1

    @property
    def rows(self) -> int:
        return max(0, self._seen - self.header_rows)

    def feed(self, data: bytes) -> None:
        text = self._open + data
        self._open = b""
        if self.quoted is not None:
            text = self._unquote(text)
        window = self._tail + text
        self._seen += sum(window.count(m) - self._tail.count(m) for m in self.marks)
        self._tail = window[-self._keep :] if self._keep else b""

    def _unquote(self, text: bytes) -> bytes:
        """``text`` with every complete quoted piece emptied; an unfinished one is kept for the next chunk."""
        assert self.quoted is not None
        out, start = [], 0
        for found in self.quoted.finditer(text):
            out.append(text[start : found.start()])
            if len(found.group()) == 1:
                self._open = text[found.start() :]
                return b"".join(out)
            out.append(b'""')
            start = found.end()
        out.append(text[start:])
        return b"".join(out)


_COUNTERS: dict[str, Callable[[], RowCounter]] = {
    "application/sparql-results+json": lambda: RowCounter((b"[{", b"},{"), _JSON_STRING, 0),
    "application/sparql-results+xml": lambda: RowCounter((b"<result>",), None, 0),
    "text/csv": lambda: RowCounter((b"\n",), _CSV_FIELD, 1),
    "text/tab-separated-values": lambda: RowCounter((b"\n",), None, 1),
}


def row_counter(media_type: str) -> RowCounter | None:
    """A counter for a results format; None for graph formats, which the byte limit alone bounds."""
    make = _COUNTERS.get(media_type)
    return make() if make else None
