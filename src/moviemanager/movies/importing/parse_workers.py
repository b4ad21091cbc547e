"""The parsing that runs off the event loop: in a worker thread, or in a child process.

`parse_to_copy` turns a file (or a byte range of it) into COPY chunks and a ParseReport of what it saw.

Run as `python -m moviemanager.movies.importing.parse_workers FD TENANT ON_ERROR ENCODING` it is a child
process: it reads a CategoryPlan line (empty: none) and a ByteRange line from standard input,
parses that range of the file open on descriptor FD (ENCODING empty: sniffed), and writes framed
messages to standard output. The plan comes on standard input, not on the command line, as it
holds every category's id (a command line argument is limited to 128 KB). The range comes last so
that the parent can look for it while the child starts (imports take a second).
"""

import json
import os
import pickle
import struct
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

from ...errors import MAX_REPORTED_PROBLEMS, CsvProblem, CsvWarning, FileProblem, InvalidCsv
from .copy_format import copy_line
from .csv_rows import MovieRow, parse_movies, read_header
from .encodings import decode_lines
from .file_ranges import ByteRange, RangeReader

OnError = Literal["fail", "skip"]
Progress = Callable[[int, int], None]  # (rows read, bytes read)
Send = Callable[[bytes, array], bool]  # (COPY chunk, the line of each of its rows) → keep going?

CHUNK_BYTES = 256 * 1024
PROGRESS_EVERY_ROWS = 10_000
PARSER_NICENESS = 10


@dataclass
class ParseReport:
    """What the parser saw. `lines[i]` is the line of the i-th row sent to COPY (4 bytes a row)."""

    lines: array = field(default_factory=lambda: array("I"))
    skipped: int = 0
    duplicates: int = 0
    problems: list[CsvProblem] = field(default_factory=list)
    problem_count: int = 0
    warnings: list[CsvWarning] = field(default_factory=list)
    warning_count: int = 0
    file_problem: FileProblem | None = None
    # Genre names no canonical genre has, by key: [first line, rows, the name as first written].
    unknown_genres: dict[str, list] = field(default_factory=dict)
    # With a CategoryPlan: movies per set of categories (for the category counts).
    category_sets: dict[tuple[int, ...], int] = field(default_factory=dict)
    # Each genre key (as text, see genre_names) with its first spelling in code point order.
    genre_names: dict[str, str] = field(default_factory=dict)
    _last_skipped_line: int = 0

    def problem(self, problem: CsvProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)
        if isinstance(problem, FileProblem):
            self.file_problem = problem
        elif problem.line != self._last_skipped_line:
            self.skipped += 1
            self._last_skipped_line = problem.line

    def repeated_ids(self, reported: list[CsvProblem], total: int) -> None:
        """Rows whose TMDB id an earlier row already has: `total` of them, the first ones `reported`."""
        self.duplicates = total
        self.problem_count += total
        self.problems.extend(reported[: MAX_REPORTED_PROBLEMS - len(self.problems)])

    def warning(self, warning: CsvWarning) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_REPORTED_PROBLEMS:
            self.warnings.append(warning)

    def unknown_genre(self, key: str, name: str, line: int) -> None:
        seen = self.unknown_genres.get(key)
        if seen is None:
            self.unknown_genres[key] = [line, 1, name]
        else:
            seen[1] += 1

    def genre_spellings(self, keys: list, names: list[str]) -> None:
        """Note how a row writes its genres (`keys` beside `names`)."""
        for key, name in zip(keys, names, strict=True):
            text = key if type(key) is str else str(key)
            known = self.genre_names.get(text)
            if known is None or name < known:
                self.genre_names[text] = name

    def genre_warnings(self) -> list[CsvWarning]:
        """One warning per unknown genre name, however many rows have it."""
        return [
            CsvWarning(
                line,
                "Genre",
                name,
                f"Unknown genre {name!r} ({rows} row{'s' * (rows != 1)}): kept as written, in no category",
            )
            for line, rows, name in sorted(self.unknown_genres.values())
        ]

    def add_part(self, later: "ParseReport") -> None:
        """Count in what the parser of the next part of the file saw (its lines came with its chunks)."""
        self.skipped += later.skipped
        self.problem_count += later.problem_count
        self.problems.extend(later.problems[: MAX_REPORTED_PROBLEMS - len(self.problems)])
        self.warning_count += later.warning_count
        self.warnings.extend(later.warnings[: MAX_REPORTED_PROBLEMS - len(self.warnings)])
        self.file_problem = later.file_problem
        for key, (line, rows, name) in later.unknown_genres.items():
            seen = self.unknown_genres.setdefault(key, [line, 0, name])
            seen[1] += rows
        for categories, movies in later.category_sets.items():
            self.category_sets[categories] = self.category_sets.get(categories, 0) + movies
        for key, name in later.genre_names.items():
            self.genre_spellings([key], [name])

    def invalid_csv(self) -> InvalidCsv:
        return InvalidCsv(sorted(self.problems, key=lambda p: p.line), self.problem_count)


@dataclass(frozen=True)
class CategoryPlan:
    """The categories as the parsers see them: the genre → categories mapping they count movies
    per set of categories with, and the ids a Category ID may name.

    The importer reads both under a lock that keeps them fixed until commit (see
    CategoryRepository.lock_for_import), so the sets counted here are the ones SQL would derive.
    """

    genre_categories: dict[int, list[int]]
    category_ids: frozenset[int] = frozenset()

    def encode(self) -> str:
        return json.dumps({"genres": self.genre_categories, "categories": sorted(self.category_ids)})

    @classmethod
    def decode(cls, text: str) -> "CategoryPlan":
        plan = json.loads(text)
        genres = {int(genre): categories for genre, categories in plan["genres"].items()}
        return cls(genres, frozenset(plan["categories"]))


class _CategorySetCounter:
    """Counts movies per set of categories, from their genre lists and explicit categories.

    Movies share a few hundred distinct genre lists: what a list means (its categories, whether it
    names an unknown genre) is worked out once per list (and explicit category).
    """

    def __init__(self, plan: CategoryPlan, parsed: ParseReport) -> None:
        self.mapping = plan.genre_categories
        self.category_ids = plan.category_ids
        self.parsed = parsed
        self._lists: dict[tuple, tuple[tuple[int, ...], bool]] = {}
        self._movies: dict[tuple, int] = {}  # by genre list and explicit category

    def add(self, genres: list, explicit: int | None) -> bool:
        """Count the movie; True when its genres name an unknown genre."""
        key = (*genres, explicit)
        known = self._lists.get(key)
        if known is None:
            known = self._lists[key] = self._meaning(genres, explicit)
        categories, unknown = known
        if categories:
            self._movies[key] = self._movies.get(key, 0) + 1
        return unknown

    def _meaning(self, genres: list, explicit: int | None) -> tuple[tuple[int, ...], bool]:
        found = {c for key in genres if type(key) is int for c in self.mapping.get(key, ())}
        if explicit is not None:
            found.add(explicit)
        return tuple(sorted(found)), any(type(key) is str for key in genres)

    def close(self) -> None:
        sets = self.parsed.category_sets
        for genres, movies in self._movies.items():
            categories = self._lists[genres][0]
            sets[categories] = sets.get(categories, 0) + movies


def parse_to_copy(
    source: BinaryIO,
    tenant: str,
    on_error: OnError,
    encoding: str | None,
    send: Send,
    progress: Progress | None = None,
    *,
    header: list[str] | None = None,
    first_line: int = 1,
    categories: CategoryPlan | None = None,
) -> ParseReport:
    """Parse the file, `send` COPY chunks (it returns False to stop early), and parsed the rest.

    `header` and `first_line` are for a part of the file that starts mid-file (see parse_movies).
    With `categories`, also count movies per set of categories (see CategoryPlan).
    """
    parsed = ParseReport()
    set_counter = None if categories is None else _CategorySetCounter(categories, parsed)
    try:
        return _parse_rows(source, tenant, on_error, encoding, send, progress, header, first_line, parsed, set_counter)
    finally:
        if set_counter is not None:
            set_counter.close()


def _parse_rows(
    source: BinaryIO,
    tenant: str,
    on_error: OnError,
    encoding: str | None,
    send: Send,
    progress: Progress | None,
    header: list[str] | None,
    first_line: int,
    parsed: ParseReport,
    set_counter: "_CategorySetCounter | None",
) -> ParseReport:
    bytes_read = 0

    def count_bytes(total: int) -> None:
        nonlocal bytes_read
        bytes_read = total

    writing = True
    buffer: list[bytes] = []
    size = 0
    rows_sent = 0
    tenant_bytes = tenant.encode()
    lines = decode_lines(source, encoding, count_bytes, first_line=first_line)
    category_ids = set_counter.category_ids if set_counter is not None else frozenset()
    spelled: set[str | None] = set()  # Genre cells whose spellings are noted: a catalog repeats a few hundred
    for item in parse_movies(lines, header=header, first_line=first_line, category_ids=category_ids):
        if isinstance(item, MovieRow):
            if not writing:
                continue
            keys = item.data.get("genre_keys", ())
            explicit = item.data.get("category_id")
            if explicit is not None:
                keys = keys[:-1]  # the explicit category's key comes last (see csv_rows.py)
            unknown = set_counter.add(keys, explicit) if set_counter is not None else True
            if unknown:
                for key, name in zip(keys, item.data.get("genres", ()), strict=True):
                    if type(key) is str:
                        parsed.unknown_genre(key, name, item.line)
            if (cell := item.data.get("genre")) not in spelled:
                spelled.add(cell)
                parsed.genre_spellings(keys, item.data.get("genres", ()))
            line = copy_line(tenant_bytes, item.tmdb_id, item.data, item.texts)
            buffer.append(line)
            size += len(line)
            parsed.lines.append(item.line)
            if size >= CHUNK_BYTES:
                if not send(b"".join(buffer), parsed.lines[rows_sent:]):
                    return parsed
                buffer, size, rows_sent = [], 0, len(parsed.lines)
            if progress is not None and len(parsed.lines) % PROGRESS_EVERY_ROWS == 0:
                progress(len(parsed.lines), bytes_read)
        elif isinstance(item, CsvWarning):
            parsed.warning(item)
        else:
            parsed.problem(item)
            # All or nothing: keep reading to report every problem, but stop writing.
            writing = on_error == "skip" and parsed.file_problem is None
    if buffer and writing:
        send(b"".join(buffer), parsed.lines[rows_sent:])
    if progress is not None:
        progress(len(parsed.lines), bytes_read)
    return parsed


# Child → parent messages: one kind byte, a length, the payload. A CHUNK's payload is its row
# count, the line of each row (array "I", native order: same machine), then the COPY bytes.
CHUNK, PROGRESS, DONE, FAILED = b"C", b"P", b"D", b"F"
FRAME = struct.Struct("!cQ")
ROW_COUNT = struct.Struct("!I")
PROGRESS_COUNTS = struct.Struct("!QQ")


def child_arguments(fd: int, tenant: str, on_error: OnError, encoding: str | None) -> list[str]:
    """The command line of a child process that parses a range of the file open on `fd`."""
    return [str(fd), tenant, on_error, encoding or ""]


def plan_line(categories: CategoryPlan | None) -> bytes:
    """The first line a child reads from standard input: the categories as the parsers see them."""
    return (categories.encode() if categories is not None else "").encode() + b"\n"


def split_chunk(payload: bytes) -> tuple[memoryview, bytes]:
    """A CHUNK frame's payload: the lines of its rows (array "I" bytes), and the COPY bytes."""
    (rows,) = ROW_COUNT.unpack_from(payload)
    lines_end = ROW_COUNT.size + rows * 4
    return memoryview(payload)[ROW_COUNT.size : lines_end], payload[lines_end:]


def _child_main(argv: list[str]) -> int:
    # Yield the CPU to the server's requests and to PostgreSQL when they want it: an import is a
    # batch job, a page of movies is somebody waiting. Alone on the machine it loses nothing.
    os.nice(PARSER_NICENESS)
    fd_text, tenant, on_error, encoding_text = argv
    fd = int(fd_text)
    encoding = encoding_text or None
    categories_text = sys.stdin.buffer.readline().strip()
    categories = CategoryPlan.decode(categories_text.decode()) if categories_text else None
    part = ByteRange.decode(sys.stdin.buffer.readline())
    out = sys.stdout.buffer

    def write(kind: bytes, *payload: bytes) -> bool:
        out.write(FRAME.pack(kind, sum(len(piece) for piece in payload)))
        for piece in payload:
            out.write(piece)
        return True

    def send(chunk: bytes, lines: array) -> bool:
        return write(CHUNK, ROW_COUNT.pack(len(lines)), lines.tobytes(), chunk)

    def progress(rows: int, bytes_read: int) -> None:
        write(PROGRESS, PROGRESS_COUNTS.pack(rows, bytes_read))

    try:
        parsed = _parse_part(fd, part, tenant, on_error, encoding, send, progress, categories)
    except InvalidCsv as exc:
        write(FAILED, pickle.dumps(exc))
    else:
        parsed.lines = array("I")  # already sent with the chunks
        write(DONE, pickle.dumps(parsed))
    out.flush()
    return 0


def _parse_part(
    fd: int,
    part: ByteRange,
    tenant: str,
    on_error: OnError,
    encoding: str | None,
    send: Send,
    progress: Progress,
    categories: CategoryPlan | None,
) -> ParseReport:
    header = None
    if part.first_line > 1:
        # A part that starts mid-file reads the header itself; a bad header is the first part's to report.
        header = read_header(decode_lines(RangeReader(fd, ByteRange()), encoding))
        if isinstance(header, CsvProblem):
            return ParseReport()
    source = RangeReader(fd, part)
    return parse_to_copy(
        source,
        tenant,
        on_error,
        encoding,
        send,
        progress,
        header=header,
        first_line=part.first_line,
        categories=categories,
    )


if __name__ == "__main__":
    # Through the package, so that what is pickled names moviemanager.movies.importing.parse_workers, not __main__.
    from moviemanager.movies.importing import parse_workers

    sys.exit(parse_workers._child_main(sys.argv[1:]))
