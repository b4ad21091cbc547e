"""A catalog file parsed into COPY input, in a worker thread or in worker processes.

Parsing is pure Python and holds the GIL. For a big file the server parses in child processes
(see parse_workers), so that its event loop keeps answering other requests quickly, and, for a
UTF-8 file, in two at once, one per half (see file_ranges), so that parsing keeps up with
PostgreSQL's COPY. Small files parse in a thread. Either way `chunks()` yields COPY-ready bytes on
the event loop, with back-pressure (a small bounded queue, and the pipes), so memory stays flat
whatever the file's size, and `parsed` says afterwards what the parsers saw.
"""

import asyncio
import itertools
import os
import pickle
import queue
import sys
import threading
from array import array
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from typing import BinaryIO

from . import parse_workers
from .file_ranges import WHOLE_FILE, ByteRange, can_be_cut, halves
from .parse_workers import (
    CHUNK,
    FRAME,
    PROGRESS,
    PROGRESS_COUNTS,
    CategoryPlan,
    OnError,
    ParseReport,
    Progress,
    child_arguments,
    parse_to_copy,
    plan_line,
    split_chunk,
)

QUEUE_CHUNKS = 8
# Files at least this big are parsed in child processes when they are real files.
PROCESS_THRESHOLD_BYTES = 8 * 1024 * 1024


class RowStream:
    """Parses `source` in a worker thread."""

    def __init__(
        self, source: BinaryIO, tenant: str, on_error: OnError, encoding: str | None, progress: Progress | None
    ) -> None:
        self.source = source
        self.tenant = tenant
        self.on_error = on_error
        self.encoding = encoding
        self.progress = progress
        self.size = _file_size(source)  # 0 when not a real file
        self.categories: CategoryPlan | None = None  # set before chunks() to have movies counted per category set
        self.parsed = ParseReport()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._stop = threading.Event()
        self._producer: asyncio.Future[ParseReport] | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        self._producer = asyncio.ensure_future(asyncio.to_thread(self._parse_in_thread))
        while (chunk := await asyncio.to_thread(self._take)) is not None:
            yield chunk

    async def finish(self) -> None:
        """Stop the parser if COPY ended early; raise what parsing raised (say, undecodable bytes)."""
        self._stop.set()
        if self._producer is not None:
            self.parsed = await self._producer

    def _parse_in_thread(self) -> ParseReport:
        try:
            return parse_to_copy(
                self.source,
                self.tenant,
                self.on_error,
                self.encoding,
                self._send,
                self.progress,
                categories=self.categories,
            )
        finally:
            self._send(None)

    def _send(self, chunk: bytes | None, _lines: array | None = None) -> bool:
        # The lines need not travel: the parsed that parse_to_copy() returns holds them.
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


class ProcessRowStream(RowStream):
    """Parses `source` (a real file) in child processes, one per byte range, reading their pipes.

    Their chunks go to COPY as they come, interleaved; `parsed.lines` follows that order. A part's
    result counts only if every part before it ended cleanly: after a FileProblem or an error, what
    a later part read cannot be trusted (a quote left open changes how everything after it reads).
    """

    def __init__(
        self, source: BinaryIO, tenant: str, on_error: OnError, encoding: str | None, progress: Progress | None
    ) -> None:
        super().__init__(source, tenant, on_error, encoding, progress)
        self._children: list[Process] = []
        self._readers: list[asyncio.Task[None]] = []
        self._results: list[ParseReport | BaseException | None] = []  # by part; None while it runs
        self._counts: list[tuple[int, int]] = []  # by part: rows and bytes read so far

    async def chunks(self) -> AsyncIterator[bytes]:
        fd = self.source.fileno()
        parts = await self._start_children(fd)
        self._results = [None] * len(parts)
        self._counts = [(0, 0)] * len(parts)
        self._frames: asyncio.Queue[tuple[int, bytes | None]] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
        self._readers = [asyncio.create_task(self._read_frames(i, child)) for i, child in enumerate(self._children)]
        ended = [False] * len(parts)
        while True:
            index, payload = await self._frames.get()
            if payload is None:
                ended[index] = True
                if self._outcome_known(ended):
                    return
                continue
            lines, chunk = split_chunk(payload)
            self.parsed.lines.frombytes(lines)  # before the chunk goes: lines[i] is the i-th row COPYed
            yield chunk

    async def finish(self) -> None:
        """Stop the parsers still running; merge their parse reports, or raise what parsing raised."""
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        for child, result in itertools.zip_longest(self._children, self._results):
            if result is None and child.returncode is None:
                child.kill()  # still parsing: COPY ended early, or an earlier part decided the outcome
            # Read its output to the end: on Python 3.11, wait() never returns while a pipe whose
            # reading was paused (we stopped reading it) has not seen its end.
            assert child.stdout is not None
            while await child.stdout.read(1 << 16):
                pass
            await child.wait()
        merged = ParseReport(lines=self.parsed.lines)
        for result in self._results:
            if result is None:
                return  # killed: COPY ended early, and its error is on its way
            if isinstance(result, BaseException):
                raise result
            merged.add_part(result)
            if result.file_problem is not None:
                break
        self.parsed = merged

    def _outcome_known(self, ended: list[bool]) -> bool:
        """Whether the parts read so far decide the result: all ended, or one before the rest failed."""
        for done, result in zip(ended, self._results, strict=True):
            if not done:
                return False
            if isinstance(result, BaseException) or (isinstance(result, ParseReport) and result.file_problem):
                return True
        return True

    async def _start_children(self, fd: int) -> list[ByteRange]:
        """Start a child for each part of the file, and give each its part."""
        # Two children start importing while the file is scanned for the cut; a spare one is stopped.
        for _ in range(2 if can_be_cut(fd, self.encoding) else 1):
            self._children.append(await self._spawn(fd))
        parts = await asyncio.to_thread(halves, fd) if len(self._children) == 2 else [WHOLE_FILE]
        while len(self._children) > len(parts):
            spare = self._children.pop()
            spare.kill()
            await spare.wait()
        for child, part in zip(self._children, parts, strict=True):
            assert child.stdin is not None
            child.stdin.write(part.encode())
            child.stdin.close()
        return parts

    async def _spawn(self, fd: int) -> Process:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            parse_workers.__name__,
            *child_arguments(fd, self.tenant, self.on_error, self.encoding),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            pass_fds=[fd],
        )
        assert child.stdin is not None
        child.stdin.write(plan_line(self.categories))  # its part follows (see _start_children)
        return child

    async def _read_frames(self, index: int, child: Process) -> None:
        """Queue the child's chunks, report its progress, keep its result; then queue (index, None)."""
        stdout = child.stdout
        assert stdout is not None
        try:
            while True:
                kind, length = FRAME.unpack(await stdout.readexactly(FRAME.size))
                payload = await stdout.readexactly(length)
                if kind == CHUNK:
                    await self._frames.put((index, payload))
                elif kind == PROGRESS:
                    self._report_progress(index, payload)
                else:
                    self._results[index] = pickle.loads(payload)
                    break
        except asyncio.IncompleteReadError:
            code = await child.wait()
            self._results[index] = RuntimeError(f"the CSV parser process ended without a result (exit code {code})")
        except Exception as exc:  # a frame it cannot read: no result will come, and chunks() must not wait for one
            self._results[index] = exc
        await self._frames.put((index, None))

    def _report_progress(self, index: int, payload: bytes) -> None:
        self._counts[index] = PROGRESS_COUNTS.unpack(payload)
        if self.progress is not None:
            self.progress(sum(rows for rows, _ in self._counts), sum(read for _, read in self._counts))


def row_stream(
    source: BinaryIO, tenant: str, on_error: OnError, encoding: str | None, progress: Progress | None
) -> RowStream:
    """Child processes for a big real file, a thread otherwise."""
    kind = ProcessRowStream if _file_size(source) >= PROCESS_THRESHOLD_BYTES else RowStream
    return kind(source, tenant, on_error, encoding, progress)


def _file_size(source: BinaryIO) -> int:
    try:
        return os.fstat(source.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # in memory, or a pipe's size is 0
        return 0
