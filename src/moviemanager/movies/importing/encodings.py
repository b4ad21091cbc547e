"""Turning an uploaded file's bytes into text lines, in any encoding, in constant memory."""

import codecs
from collections.abc import Callable, Iterator
from typing import BinaryIO

from ...errors import CsvProblem, InvalidCsv, InvalidUpload

CHUNK_BYTES = 1 << 20
BYTE_ORDER_MARKS = [
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]


def check_encoding(name: str) -> str:
    """The codec's canonical name; InvalidUpload for a name Python does not know as a text encoding."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise InvalidUpload(f"Unknown encoding {name[:40]!r}; use a name such as utf-8, utf-16 or cp1252") from None
    if not getattr(info, "_is_text_encoding", True):
        raise InvalidUpload(f"{name[:40]!r} is not a text encoding; use a name such as utf-8, utf-16 or cp1252")
    return info.name


def decode_lines(
    source: BinaryIO,
    encoding: str | None = None,
    on_read: Callable[[int], None] | None = None,
    *,
    first_line: int = 1,
) -> Iterator[str]:
    """Yield the file's lines, each ending in '\\n' (the last one may not).

    Without `encoding`, a byte order mark picks UTF-8 or UTF-16, and UTF-8 is assumed otherwise.
    Bytes that do not decode raise InvalidCsv naming the line. `on_read` gets the bytes read so far.
    A `source` that starts mid-file, on line `first_line`, has no byte order mark: its bytes are
    decoded as they are, with `encoding` or UTF-8.
    """
    first = source.read(CHUNK_BYTES)
    if first_line == 1:
        encoding, first = _sniff(first, encoding)
    else:
        encoding = check_encoding(encoding or "utf-8")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines_done = first_line - 1
    pending = ""
    bytes_read = 0
    chunk = first
    while True:
        bytes_read += len(chunk)
        final = not chunk
        try:
            text = decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            raise _undecodable(exc, encoding, lines_done + pending.count("\n")) from None
        if on_read is not None:
            on_read(bytes_read)
        if text:
            parts = (pending + text).split("\n")
            pending = parts.pop()
            for part in parts:
                yield part + "\n"
            lines_done += len(parts)
        if final:
            if pending:
                yield pending
            return
        chunk = source.read(CHUNK_BYTES)


def sniff_encoding(first: bytes, encoding: str | None) -> str:
    """The encoding a file starting with the bytes `first` is decoded with (see decode_lines)."""
    return _sniff(first, encoding)[0]


def _sniff(first: bytes, encoding: str | None) -> tuple[str, bytes]:
    """The encoding to decode with, and the first chunk without its byte order mark."""
    if encoding is not None:
        encoding = check_encoding(encoding)
        if encoding == "utf-8":
            return encoding, first.removeprefix(codecs.BOM_UTF8)
        return encoding, first
    for mark, name in BYTE_ORDER_MARKS:
        if first.startswith(mark):
            return name, first[len(mark) :]
    return "utf-8", first


def _undecodable(exc: UnicodeDecodeError, encoding: str, lines_before: int) -> InvalidCsv:
    # The decoder's input (`exc.object`) starts where the previous chunk's text ended.
    prefix = exc.object[: exc.start].decode(encoding, errors="replace")
    line = lines_before + prefix.count("\n") + 1
    bad = exc.object[exc.start : exc.start + 1].hex()
    label = encoding.upper() if encoding.startswith("utf") else encoding
    hint = (
        "save it as UTF-8, or name its encoding with encoding=… (for example encoding=cp1252)"
        if encoding == "utf-8"
        else "check the encoding named with encoding=…"
    )
    reason = f"The file is not valid {label} (byte 0x{bad}); {hint}"
    return InvalidCsv([CsvProblem(line, None, None, reason)])
