"""The import pipeline: a catalog CSV streamed through the parser into COPY, then replaced or merged.

The parser runs in a worker thread and hands COPY-ready chunks to the event loop through a small
bounded queue, so memory stays flat whatever the file's size, and parsing overlaps with the
server's work. Everything happens in one transaction; the report is built only after COMMIT.
"""

import asyncio
import queue
import threading
from array import array
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from time import perf_counter
from typing import BinaryIO, Literal

from ..errors import MAX_REPORTED_PROBLEMS, CsvProblem, CsvWarning, FileProblem, InvalidCsv, ShrinkRefused
from ..uow import UnitOfWork
from .bulk import BulkMovies, Diff, copy_line
from .csv_import import MovieRow, duplicate_problem, parse_movies
from .encodings import decode_lines
from .schemas import ImportReport

Mode = Literal["replace", "merge"]
OnError = Literal["fail", "skip"]
Progress = Callable[[int, int], None]  # (rows read, bytes read)

CHUNK_CHARS = 256 * 1024
QUEUE_CHUNKS = 8
PROGRESS_EVERY_ROWS = 10_000
# A replace that keeps fewer than this share of the tenant's movies needs allow_shrink.
SHRINK_LIMIT = 0.10


@dataclass(frozen=True, kw_only=True)
class ImportOptions:
    mode: Mode = "replace"
    dry_run: bool = False
    on_error: OnError = "fail"
    allow_shrink: bool = False
    encoding: str | None = None


DEFAULT_OPTIONS = ImportOptions()


@dataclass
class _Tally:
    """What the parser saw. `lines[i]` is the line of the i-th row sent to COPY (4 bytes a row)."""

    lines: array = field(default_factory=lambda: array("I"))
    skipped: int = 0
    duplicates: int = 0
    problems: list[CsvProblem] = field(default_factory=list)
    problem_count: int = 0
    warnings: list[CsvWarning] = field(default_factory=list)
    warning_count: int = 0
    file_problem: FileProblem | None = None
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

    def invalid_csv(self) -> InvalidCsv:
        return InvalidCsv(sorted(self.problems, key=lambda p: p.line), self.problem_count)


class _RowStream:
    """Parses in a worker thread; `chunks()` yields the COPY input on the event loop."""

    def __init__(self, tenant: str, source: BinaryIO, options: ImportOptions, progress: Progress | None) -> None:
        self.tenant = tenant
        self.source = source
        self.options = options
        self.progress = progress
        self.tally = _Tally()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._stop = threading.Event()
        self._bytes_read = 0

    async def copy_into(self, bulk: BulkMovies, table: str) -> None:
        producer = asyncio.create_task(asyncio.to_thread(self._produce))
        try:
            await bulk.copy(table, self._chunks())
        finally:
            self._stop.set()
            await producer  # re-raises a parsing failure, such as undecodable bytes

    def _produce(self) -> None:
        tally = self.tally
        writing = True
        buffer: list[str] = []
        size = 0
        try:
            for item in parse_movies(decode_lines(self.source, self.options.encoding, self._count_bytes)):
                if isinstance(item, MovieRow):
                    if not writing:
                        continue
                    line = copy_line(self.tenant, item.tmdb_id, item.data)
                    buffer.append(line)
                    size += len(line)
                    tally.lines.append(item.line)
                    if size >= CHUNK_CHARS:
                        if not self._send("".join(buffer).encode()):
                            return
                        buffer, size = [], 0
                    if self.progress is not None and len(tally.lines) % PROGRESS_EVERY_ROWS == 0:
                        self.progress(len(tally.lines), self._bytes_read)
                elif isinstance(item, CsvWarning):
                    tally.warning(item)
                else:
                    tally.problem(item)
                    # All or nothing: keep reading to report every problem, but stop writing.
                    writing = self.options.on_error == "skip" and tally.file_problem is None
            if buffer and writing:
                self._send("".join(buffer).encode())
            if self.progress is not None:
                self.progress(len(tally.lines), self._bytes_read)
        finally:
            self._send(None)

    def _count_bytes(self, total: int) -> None:
        self._bytes_read = total

    def _send(self, chunk: bytes | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(chunk, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _take(self) -> bytes | None:
        while not self._stop.is_set():
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    async def _chunks(self) -> AsyncIterator[bytes]:
        while (chunk := await asyncio.to_thread(self._take)) is not None:
            yield chunk


async def import_catalog(
    uow: UnitOfWork,
    tenant: str,
    source: BinaryIO,
    options: ImportOptions = DEFAULT_OPTIONS,
    *,
    source_name: str,
    progress: Progress | None = None,
) -> ImportReport:
    """Replace or merge the tenant's movies with a CSV's, registering the tenant if it is new.

    Raises InvalidCsv (nothing written) for a damaged file, or for any invalid row unless
    `on_error="skip"`; ShrinkRefused when a replace would empty or gut the catalog.
    """
    started = perf_counter()
    stream = _RowStream(tenant, source, options, progress)
    async with uow:
        await uow.tenants.add_and_lock(tenant)
        bulk = uow.bulk_movies(tenant)
        old = await bulk.current_partition()
        replacing = options.mode == "replace" or old is None
        new = await bulk.create_table(temporary=not replacing)
        await stream.copy_into(bulk, new)
        tally = stream.tally
        if tally.file_problem is not None or (tally.problem_count and options.on_error == "fail"):
            raise tally.invalid_csv()
        await _drop_repeated_ids(bulk, new, tally, options)

        loaded = len(tally.lines) - tally.duplicates
        old_count = await bulk.count(old) if old is not None else 0
        if replacing and not options.allow_shrink:
            _refuse_shrinking(tenant, old_count, loaded)
        if old is None:
            diff = Diff(inserted=loaded, updated=0, deleted=0, unchanged=0)
        else:
            diff = await bulk.diff(new, old, replace=replacing)
        if not options.dry_run:
            if replacing:
                await bulk.add_other_indexes(new)
                await bulk.analyze(new)
                await bulk.swap(old, new)
            else:
                await bulk.upsert(new, old)
            await uow.commit()

    elapsed = perf_counter() - started
    return ImportReport(
        tenant=tenant,
        source=source_name,
        mode=options.mode,
        dry_run=options.dry_run,
        loaded=loaded,
        inserted=diff.inserted,
        updated=diff.updated,
        deleted=diff.deleted,
        unchanged=diff.unchanged,
        skipped=tally.skipped + tally.duplicates,
        total=loaded if replacing else old_count + diff.inserted,
        elapsed_ms=round(elapsed * 1000, 1),
        rows_per_second=round(loaded / elapsed) if elapsed > 0 else 0,
        error_count=tally.problem_count,
        errors=[asdict(problem) for problem in sorted(tally.problems, key=lambda p: p.line)],
        warning_count=tally.warning_count,
        warnings=[asdict(warning) for warning in tally.warnings],
    )


async def _drop_repeated_ids(bulk: BulkMovies, table: str, tally: _Tally, options: ImportOptions) -> None:
    """Index the new rows by id; a TMDB id seen twice fails the import, or skips the later rows."""
    if await bulk.add_primary_key_index(table):
        return
    repeats = await bulk.duplicates(table, limit=MAX_REPORTED_PROBLEMS)
    reported = [duplicate_problem(tally.lines[row], tmdb_id, tally.lines[first]) for tmdb_id, row, first in repeats]
    tally.repeated_ids(reported, total=await bulk.delete_repeats(table))
    if options.on_error == "fail":
        raise tally.invalid_csv()
    if not await bulk.add_primary_key_index(table):
        raise RuntimeError("duplicate TMDB ids remain after removing repeats")


def _refuse_shrinking(tenant: str, old_count: int, new_count: int) -> None:
    if new_count == 0:
        raise ShrinkRefused(
            f"The file has no movie rows and would leave tenant {tenant!r} empty; send allow_shrink=true"
            " to empty the catalog. Nothing was changed."
        )
    if old_count and new_count < old_count * SHRINK_LIMIT:
        raise ShrinkRefused(
            f"The file holds {new_count:,} movies and would shrink tenant {tenant!r} from {old_count:,}"
            f" (more than {1 - SHRINK_LIMIT:.0%} fewer); send allow_shrink=true if that is intended."
            " Nothing was changed."
        )
