"""Cutting a catalog file into byte ranges that start on a record, so that each can be parsed apart.

A record boundary is found by counting bytes: RFC 4180 doubles the quotes inside a quoted field,
so a line feed after an even number of `"` bytes since the file's start ends a record. That holds
in UTF-8, where neither byte occurs inside a multi-byte sequence; other encodings are not cut.
"""

import csv
import io
import os
from dataclasses import dataclass

from .encodings import sniff_encoding

SCAN_BYTES = 1 << 20
# How far past the middle to look for a boundary; the csv module refuses fields over 128 KB anyway.
SEARCH_BYTES = 8 << 20
PEEK_BYTES = 64 * 1024


@dataclass(frozen=True)
class ByteRange:
    """Bytes [start, end) of a file (to its end when `end` is None), starting on line `first_line`."""

    start: int = 0
    end: int | None = None
    first_line: int = 1

    def encode(self) -> bytes:
        """The range as one line of text (see decode), to send to a child process."""
        return b"%d %s %d\n" % (self.start, b"" if self.end is None else b"%d" % self.end, self.first_line)

    @classmethod
    def decode(cls, line: bytes) -> "ByteRange":
        start, end, first_line = line.decode().split(" ")
        return cls(int(start), int(end) if end else None, int(first_line))


WHOLE_FILE = ByteRange()


class RangeReader:
    """A binary file view of one byte range of the file open on `fd`.

    Reads with os.pread: processes given the same descriptor share its file offset, pread leaves it alone.
    """

    def __init__(self, fd: int, part: ByteRange) -> None:
        self.fd = fd
        self.offset = part.start
        self.end = part.end

    def read(self, size: int = -1) -> bytes:
        end = self.end if self.end is not None else os.fstat(self.fd).st_size
        if size < 0 or size > end - self.offset:
            size = end - self.offset
        if size <= 0:
            return b""
        data = os.pread(self.fd, size, self.offset)
        self.offset += len(data)
        return data


def can_be_cut(fd: int, encoding: str | None) -> bool:
    """Whether the file open on `fd` is UTF-8 (named, or by default), which the cut relies on."""
    return sniff_encoding(os.pread(fd, 4, 0), encoding) == "utf-8"


def halves(fd: int) -> list[ByteRange]:
    """A UTF-8 file cut in two at a record boundary near its middle, or whole when it cannot be cut."""
    boundary = record_boundary(fd, os.fstat(fd).st_size)
    if boundary is None:
        return [WHOLE_FILE]
    offset, line = boundary
    return [ByteRange(0, offset, 1), ByteRange(offset, None, line)]


def record_boundary(fd: int, size: int) -> tuple[int, int] | None:
    """(byte offset, line number) of the first record that starts past the middle of the file.

    None when there is none within SEARCH_BYTES: a quote left open, or records that huge.
    """
    fields = _header_fields(fd)
    if fields is None:
        return None
    offset = size // 2
    quotes, newlines = _count_quotes_and_newlines(fd, offset)
    limit = min(size, offset + SEARCH_BYTES)
    while offset < limit:
        block = os.pread(fd, min(SCAN_BYTES, limit - offset), offset)
        if not block:
            return None
        line_start = 0
        while (newline := block.find(b"\n", line_start)) != -1:
            quotes += block.count(b'"', line_start, newline)
            newlines += 1
            line_start = newline + 1
            boundary = offset + line_start
            if quotes % 2 == 0 and boundary < size and _record_starts_at(fd, boundary, fields):
                return boundary, newlines + 1
        quotes += block.count(b'"', line_start)
        offset += len(block)
    return None


def _count_quotes_and_newlines(fd: int, end: int) -> tuple[int, int]:
    quotes = newlines = offset = 0
    while offset < end and (block := os.pread(fd, min(SCAN_BYTES, end - offset), offset)):
        quotes += block.count(b'"')
        newlines += block.count(b"\n")
        offset += len(block)
    return quotes, newlines


def _header_fields(fd: int) -> int | None:
    header = _first_record(os.pread(fd, PEEK_BYTES, 0).decode("utf-8-sig", errors="replace"))
    return len(header) if header else None


def _record_starts_at(fd: int, offset: int, fields: int) -> bool:
    """Whether the record read from `offset` has as many fields as the header.

    Parity alone is fooled by a quote inside an unquoted field (5'10"), which the csv module reads
    as a plain character: then even parity falls inside quoted fields, and the text that follows
    rarely splits into the header's number of fields. Should a wrong cut get through, the first
    range ends inside a quoted field and its parser reports a FileProblem: the import fails, it
    never stores misread rows.
    """
    record = _first_record(os.pread(fd, PEEK_BYTES, offset).decode("utf-8", errors="replace"))
    return record is not None and len(record) == fields


def _first_record(text: str) -> list[str] | None:
    try:
        return next(csv.reader(io.StringIO(text), strict=True), None)
    except csv.Error:
        return None
