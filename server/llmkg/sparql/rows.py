"""Counting the solutions of a SELECT answer while the engine serialises it, for the row limit.

pyoxigraph writes a whole answer in one native call, so the rows are counted in the bytes it
writes, chunk by chunk, from how each results format marks a row: a line in TSV and CSV (outside
quoted fields), a ``<result>`` element in XML, an object of the ``bindings`` array in JSON
(outside strings). Pieces that may continue in the next chunk (an open string, the last bytes) are
carried over, so a chunk boundary never changes the count.
"""

from __future__ import annotations

from collections.abc import Callable


class RowCounter:
    """``feed`` the answer's bytes in order; ``rows`` is the number of solutions seen so far.

    ``quotes``: the format quotes fields with ``"`` (JSON, CSV); ``escapes``: a backslash escapes the
    next character (JSON). The text between quotes is dropped with C-level splits, not a regular
    expression per string, so counting costs a small fraction of what the engine spends writing.
    """

    def __init__(
        self, marks: tuple[bytes, ...], header_rows: int, *, quotes: bool = False, escapes: bool = False
    ) -> None:
        self.marks, self.header_rows, self.quotes, self.escapes = marks, header_rows, quotes, escapes
        self._seen = 0
        self._inside = False  # the chunk so far ended inside a quoted piece
        self._backslash = b""  # a backslash that may escape the first byte of the next chunk
        self._tail = b""  # the last bytes outside quotes, where a mark may begin
        self._keep = max(len(m) for m in marks) - 1

    @property
    def rows(self) -> int:
        return max(0, self._seen - self.header_rows)

    def feed(self, data: bytes) -> None:
        text = self._outside(data) if self.quotes else data
        window = self._tail + text
        self._seen += sum(window.count(m) - self._tail.count(m) for m in self.marks)
        self._tail = window[-self._keep :] if self._keep else b""

    def _outside(self, data: bytes) -> bytes:
        """``data`` with every quoted piece emptied (``""`` stands for each); the state carries over."""
        if self.escapes:
            data = self._backslash + data
            odd = (len(data) - len(data.rstrip(b"\\"))) % 2 == 1
            self._backslash, data = (b"\\", data[:-1]) if odd else (b"", data)
            # escaped backslashes first, left to right as a reader pairs them; then escaped quotes
            data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
        # A CSV quote inside a field is doubled: it leaves and re-enters the field, so every quote
        # toggles the state and the pieces between quotes alternate, outside and inside.
        pieces = data.split(b'"')
        began_inside = self._inside
        outside = pieces[1::2] if began_inside else pieces[0::2]
        self._inside = began_inside != (len(pieces) % 2 == 0)
        # a quote stays wherever a quoted piece was, so no mark is made of bytes from both sides of one
        return b'"' * began_inside + b'""'.join(outside) + b'"' * self._inside


_COUNTERS: dict[str, Callable[[], RowCounter]] = {
    "application/sparql-results+json": lambda: RowCounter((b"[{", b"},{"), 0, quotes=True, escapes=True),
    "application/sparql-results+xml": lambda: RowCounter((b"<result>",), 0),
    "text/csv": lambda: RowCounter((b"\n",), 1, quotes=True),
    "text/tab-separated-values": lambda: RowCounter((b"\n",), 1),
}


def row_counter(media_type: str) -> RowCounter | None:
    """A counter for a results format; None for graph formats, which the byte limit alone bounds."""
    make = _COUNTERS.get(media_type)
    return make() if make else None
