"""The import pipeline: a catalog CSV streamed through the parser into COPY, then replaced or merged.

Parsing (row_stream) overlaps with the server's COPY work, and memory stays flat whatever the
file's size. Everything happens in one transaction; the report is built only after COMMIT.
"""

import heapq
import logging
from array import array
from dataclasses import asdict, dataclass, field
from time import perf_counter
from typing import BinaryIO, Literal

from ... import metrics
from ...errors import MAX_REPORTED_PROBLEMS, CsvProblem, ShrinkRefused
from ...uow import UnitOfWork
from ..schemas import ImportReport
from . import parallel_build
from .bulk import BulkMovies, Diff
from .csv_rows import duplicate_problem
from .encodings import check_encoding
from .parallel_build import ParallelBuild, drop_leftovers, index_job
from .parse_workers import CategoryPlan
from .row_stream import OnError, ParseReport, Progress, RowStream, row_stream

log = logging.getLogger(__name__)

Mode = Literal["replace", "merge"]

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
    try:
        if options.encoding is not None:
            check_encoding(options.encoding)  # before any work, whichever door the options came through
        clock = _PhaseClock()
        stream = row_stream(source, tenant, options.on_error, options.encoding, progress)
        report = await _import(uow, tenant, options, stream, clock, source_name)
    except BaseException as exc:
        metrics.record_failed_import(exc)
        raise
    metrics.record_import(report)
    return report


async def _import(
    uow: UnitOfWork,
    tenant: str,
    options: ImportOptions,
    stream: RowStream,
    clock: "_PhaseClock",
    source_name: str,
) -> ImportReport:
    build: ParallelBuild | None = None
    try:
        async with uow.for_tenant(tenant, importing=True):
            await uow.tenants.add_and_lock(tenant, wait=uow.timeouts.reload_wait)
            stream.categories = CategoryPlan(*await uow.categories.lock_for_import())
            bulk = uow.bulk_movies(tenant)
            if not options.dry_run:
                await drop_leftovers(bulk)
            old = await bulk.current_partition()
            replacing = options.mode == "replace" or old is None
            in_parallel = replacing and not options.dry_run and stream.size >= parallel_build.PARALLEL_BUILD_BYTES
            build_sessions = uow.side_sessions() if in_parallel else None
            if build_sessions is not None:
                build = ParallelBuild(build_sessions, tenant)
                parsed, diff, old_count = await _replace_in_parallel(bulk, build, old, stream, options, clock)
            else:
                parsed, diff, old_count = await _import_in_one_transaction(bulk, old, replacing, stream, options, clock)
            if not options.dry_run:
                await uow.tenants.new_data_version(tenant)  # invalidates the tenant's ETags, at commit
                await uow.commit()
                clock.mark("write_and_commit")
    except BaseException:
        if build is not None:  # after the rollback, which released the new tables' locks
            await build.drop_committed()
        raise

    loaded = len(parsed.lines) - parsed.duplicates
    warnings = sorted([*parsed.warnings, *parsed.genre_warnings()], key=lambda w: w.line)
    elapsed = clock.total()
    log.info("import into %s: %d rows in %.1f s %s", tenant, loaded, elapsed, clock.phases_ms)
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
        skipped=parsed.skipped + parsed.duplicates,
        total=loaded if replacing else old_count + diff.inserted,
        elapsed_ms=round(elapsed * 1000, 1),
        rows_per_second=round(loaded / elapsed) if elapsed > 0 else 0,
        phases_ms=clock.phases_ms,
        error_count=parsed.problem_count,
        errors=[asdict(problem) for problem in sorted(parsed.problems, key=lambda p: p.line)],
        warning_count=parsed.warning_count + len(parsed.unknown_genres),
        warnings=[asdict(warning) for warning in warnings[:MAX_REPORTED_PROBLEMS]],
    )


async def _import_in_one_transaction(
    bulk: BulkMovies, old: str | None, replacing: bool, stream: RowStream, options: ImportOptions, clock: "_PhaseClock"
) -> tuple[ParseReport, Diff, int]:
    """Everything in the unit of work's transaction (committed by the caller)."""
    new = await bulk.create_table(temporary=not replacing)
    parsed = await _copy(bulk, new, stream, options, clock)
    await _drop_repeated_ids(bulk, new, parsed, options)
    clock.mark("primary_key")
    diff, old_count = await _compare(bulk, new, old, parsed, replacing, options, clock)
    if options.dry_run:
        return parsed, diff, old_count
    if replacing:
        await bulk.add_other_indexes(new)
        clock.mark("indexes")
        await bulk.analyze(new)
        clock.mark("analyze")
        await bulk.swap(old, new)
        await _write_counts(bulk, new, parsed)
    else:
        await bulk.upsert(new, old)
        await _write_counts(bulk, old, None)
    clock.mark("counts")
    return parsed, diff, old_count


async def _write_counts(bulk: BulkMovies, partition: str, parsed: ParseReport | None) -> None:
    """The tenant's category counts and genre names: from what the parsers counted and noted,
    which holds for the file's rows, so not after a merge, nor once repeated ids were removed
    (they are then derived from the table). Then the facets of its catalog, now in `partition`."""
    if parsed is not None and parsed.duplicates == 0:
        await bulk.write_counts(parsed.category_sets)
        await bulk.write_genre_names(parsed.genre_names)
    else:
        await bulk.write_counts()
        await bulk.write_genre_names()
    await bulk.write_facets(partition)


async def _replace_in_parallel(
    bulk: BulkMovies,
    build: ParallelBuild,
    old: str | None,
    stream: RowStream,
    options: ImportOptions,
    clock: "_PhaseClock",
) -> tuple[ParseReport, Diff, int]:
    """A big replace: the new tables committed unattached, indexed over several connections, and
    swapped in by `bulk`'s transaction, which holds the tenant's writer lock (see parallel_build)."""
    async with build.sessions() as session:
        first = BulkMovies(session, bulk.tenant)
        new = await first.create_table()
        parsed = await _copy(first, new, stream, options, clock)
        await _drop_repeated_ids(first, new, parsed, options)
        clock.mark("primary_key")
        diff, old_count = await _compare(first, new, old, parsed, True, options, clock)
        jobs = [index_job(new, name) for name in await first.index_names()]
        await first.hide(new)
        await session.commit()
    build.mark_committed(new)
    await build.run(jobs)
    clock.mark("indexes")
    await bulk.analyze(new)
    clock.mark("analyze")
    await bulk.swap(old, new)
    await _write_counts(bulk, new, parsed)
    clock.mark("counts")
    return parsed, diff, old_count


async def _copy(
    bulk: BulkMovies, new: str, stream: RowStream, options: ImportOptions, clock: "_PhaseClock"
) -> ParseReport:
    """The file into `new`: InvalidCsv for a damaged file or rejected rows."""
    try:
        await bulk.copy(new, stream.chunks())
    finally:
        await stream.finish()
    parsed = stream.parsed
    clock.mark("parse_and_copy")
    if parsed.file_problem is not None or (parsed.problem_count and options.on_error == "fail"):
        raise parsed.invalid_csv()
    return parsed


async def _compare(
    bulk: BulkMovies,
    new: str,
    old: str | None,
    parsed: ParseReport,
    replacing: bool,
    options: ImportOptions,
    clock: "_PhaseClock",
) -> tuple[Diff, int]:
    """What the import changes, and how many movies the tenant had; ShrinkRefused if it guts the catalog."""
    loaded = len(parsed.lines) - parsed.duplicates
    old_count = await bulk.count(old) if old is not None else 0
    if replacing and not options.allow_shrink:
        _refuse_shrinking(bulk.tenant, old_count, loaded)
    if old is None:
        diff = Diff(inserted=loaded, updated=0, deleted=0, unchanged=0)
    else:
        diff = await bulk.diff(new, old, replace=replacing)
    clock.mark("compare")
    return diff, old_count


class _PhaseClock:
    def __init__(self) -> None:
        self.started = self._last = perf_counter()
        self.phases_ms: dict[str, float] = {}

    def mark(self, phase: str) -> None:
        now = perf_counter()
        self.phases_ms[phase] = round((now - self._last) * 1000, 1)
        self._last = now

    def total(self) -> float:
        return perf_counter() - self.started


async def _drop_repeated_ids(bulk: BulkMovies, table: str, parsed: ParseReport, options: ImportOptions) -> None:
    """Index the new rows by id; a TMDB id seen twice fails the import, or skips the later rows.

    "Later" by line in the file: the parts of a file parsed in parallel reach COPY interleaved.
    """
    if await bulk.add_primary_key(table):
        return
    later = _LaterCopies()
    async for tmdb_id, ordinals in bulk.duplicates(table):
        later.add(tmdb_id, [(parsed.lines[ordinal], ordinal) for ordinal in ordinals])
    parsed.repeated_ids(later.earliest(MAX_REPORTED_PROBLEMS), total=len(later.ordinals))
    if options.on_error == "fail":
        raise parsed.invalid_csv()
    await bulk.delete_repeats(table, later.ordinals)
    if not await bulk.add_primary_key(table):
        raise RuntimeError("duplicate TMDB ids remain after removing repeats")


@dataclass
class _LaterCopies:
    """Rows whose TMDB id an earlier line of the file has; in arrays, 24 bytes a row, as there may be millions."""

    lines: array = field(default_factory=lambda: array("I"))
    tmdb_ids: array = field(default_factory=lambda: array("q"))
    first_lines: array = field(default_factory=lambda: array("I"))
    ordinals: array = field(default_factory=lambda: array("q"))

    def add(self, tmdb_id: int, copies: list[tuple[int, int]]) -> None:
        """`copies` are the (line, ordinal) of every row with this id: all but the first line's are later."""
        copies.sort()
        first_line = copies[0][0]
        for line, ordinal in copies[1:]:
            self.lines.append(line)
            self.tmdb_ids.append(tmdb_id)
            self.first_lines.append(first_line)
            self.ordinals.append(ordinal)

    def earliest(self, count: int) -> list[CsvProblem]:
        """The problems of the `count` later copies that come first in the file."""
        rows = heapq.nsmallest(count, range(len(self.lines)), key=self.lines.__getitem__)
        return [duplicate_problem(self.lines[i], self.tmdb_ids[i], self.first_lines[i]) for i in rows]


def _refuse_shrinking(tenant: str, old_count: int, new_count: int) -> None:
    if new_count == 0:
        raise ShrinkRefused(
            f"The file has no movie rows and would leave tenant {tenant!r} empty; send allow_shrink=true"
            " to empty the catalog. Nothing was changed."
        )
    if old_count and new_count < old_count * SHRINK_LIMIT:
        raise ShrinkRefused(
            f"The file holds {new_count:,} movie{'s' * (new_count != 1)} and would shrink tenant {tenant!r}"
            f" from {old_count:,}"
            f" (more than {1 - SHRINK_LIMIT:.0%} fewer); send allow_shrink=true if that is intended."
            " Nothing was changed."
        )
