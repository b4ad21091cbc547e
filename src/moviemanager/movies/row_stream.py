"""A catalog file parsed into COPY input, in a worker thread or a worker process.

Parsing is pure Python and holds the GIL. For a big upload the server parses in a child process,
so that its event loop keeps answering other requests quickly; small files and the CLI parse in
a thread. Either way `chunks()` yields COPY-ready bytes on the event loop, with back-pressure
(a small bounded queue, or the pipe), so memory stays flat whatever the file's size, and
`tally` says afterwards what the parser saw.

Run as `python -m moviemanager.movies.row_stream FD TENANT ON_ERROR [ENCODING]` it is that child:
it reads the file open on descriptor FD and writes framed messages to standard output.
"""

import asyncio
import os
import pickle
import queue
import struct
import sys
import threading
from array import array
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

from ..errors import MAX_REPORTED_PROBLEMS, CsvProblem, CsvWarning, FileProblem, InvalidCsv
from .bulk import copy_line
from .csv_import import MovieRow, parse_movies
from .encodings import decode_lines

OnError = Literal["fail", "skip"]
Progress = Callable[[int, int], None]  # (rows read, bytes read)

CHUNK_BYTES = 256 * 1024
QUEUE_CHUNKS = 8
PROGRESS_EVERY_ROWS = 10_000
# Files at least this big are parsed in a child process when they are real files.
PROCESS_THRESHOLD_BYTES = 8 * 1024 * 1024


@dataclass
class Tally:
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


def produce(
    source: BinaryIO,
    tenant: str,
    on_error: OnError,
    encoding: str | None,
    send: Callable[[bytes], bool],
    progress: Progress | None = None,
) -> Tally:
    """Parse the file, `send` COPY chunks (it returns False to stop early), and tally the rest."""
    tally = Tally()
    bytes_read = 0

    def count_bytes(total: int) -> None:
        nonlocal bytes_read
        bytes_read = total

    writing = True
    buffer: list[bytes] = []
    size = 0
    tenant_bytes = tenant.encode()
    for item in parse_movies(decode_lines(source, encoding, count_bytes)):
        if isinstance(item, MovieRow):
            if not writing:
                continue
            line = copy_line(tenant_bytes, item.tmdb_id, item.data)
            buffer.append(line)
            size += len(line)
            tally.lines.append(item.line)
            if size >= CHUNK_BYTES:
                if not send(b"".join(buffer)):
                    return tally
                buffer, size = [], 0
            if progress is not None and len(tally.lines) % PROGRESS_EVERY_ROWS == 0:
                progress(len(tally.lines), bytes_read)
        elif isinstance(item, CsvWarning):
            tally.warning(item)
        else:
            tally.problem(item)
            # All or nothing: keep reading to report every problem, but stop writing.
            writing = on_error == "skip" and tally.file_problem is None
    if buffer and writing:
        send(b"".join(buffer))
    if progress is not None:
        progress(len(tally.lines), bytes_read)
    return tally


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
        self.tally = Tally()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._stop = threading.Event()
        self._producer: asyncio.Future[Tally] | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        self._producer = asyncio.ensure_future(asyncio.to_thread(self._produce))
        while (chunk := await asyncio.to_thread(self._take)) is not None:
            yield chunk

    async def finish(self) -> None:
        """Stop the parser if COPY ended early; raise what parsing raised (say, undecodable bytes)."""
        self._stop.set()
        if self._producer is not None:
            self.tally = await self._producer

    def _produce(self) -> Tally:
        try:
            return produce(self.source, self.tenant, self.on_error, self.encoding, self._send, self.progress)
        finally:
            self._send(None)

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


# Child → parent messages: one kind byte, a length, the payload.
CHUNK, PROGRESS, DONE, FAILED = b"C", b"P", b"D", b"F"
FRAME = struct.Struct("!cQ")


class ProcessRowStream(RowStream):
    """Parses `source` (a real file) in a child process, reading its output through a pipe."""

    async def chunks(self) -> AsyncIterator[bytes]:
        self._child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            str(self.source.fileno()),
            self.tenant,
            self.on_error,
            *([self.encoding] if self.encoding else []),
            stdout=asyncio.subprocess.PIPE,
            pass_fds=[self.source.fileno()],
        )
        self._result: Tally | BaseException | None = None
        stdout = self._child.stdout
        assert stdout is not None
        while True:
            kind, length = FRAME.unpack(await stdout.readexactly(FRAME.size))
            payload = await stdout.readexactly(length)
            if kind == CHUNK:
                yield payload
            elif kind == PROGRESS:
                if self.progress is not None:
                    self.progress(*struct.unpack("!QQ", payload))
            else:
                self._result = pickle.loads(payload)
                return

    async def finish(self) -> None:
        child = getattr(self, "_child", None)
        if child is None:
            return
        if self._result is None and child.returncode is None:
            child.kill()  # COPY ended early
        code = await child.wait()
        if isinstance(self._result, BaseException):
            raise self._result
        if not isinstance(self._result, Tally):
            raise RuntimeError(f"the CSV parser process ended without a result (exit code {code})")
        self.tally = self._result


def row_stream(
    source: BinaryIO, tenant: str, on_error: OnError, encoding: str | None, progress: Progress | None
) -> RowStream:
    """A child process for a big real file, a thread otherwise."""
    kind = ProcessRowStream if _file_size(source) >= PROCESS_THRESHOLD_BYTES else RowStream
    return kind(source, tenant, on_error, encoding, progress)


def _file_size(source: BinaryIO) -> int:
    try:
        return os.fstat(source.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # in memory, or a pipe's size is 0
        return 0


def _child_main(argv: list[str]) -> int:
    fd, tenant, on_error, *encoding = argv
    out = sys.stdout.buffer

    def write(kind: bytes, payload: bytes) -> bool:
        out.write(FRAME.pack(kind, len(payload)))
        out.write(payload)
        return True

    def progress(rows: int, bytes_read: int) -> None:
        write(PROGRESS, struct.pack("!QQ", rows, bytes_read))

    with os.fdopen(int(fd), "rb", closefd=False) as source:
        source.seek(0)
        try:
            tally = produce(
                source, tenant, on_error, encoding[0] if encoding else None, lambda chunk: write(CHUNK, chunk), progress
            )
        except InvalidCsv as exc:
            write(FAILED, pickle.dumps(exc))
            return 0
        write(DONE, pickle.dumps(tally))
    out.flush()
    return 0


if __name__ == "__main__":
    # Through the package, so that what is pickled names moviemanager.movies.row_stream, not __main__.
    from moviemanager.movies import row_stream

    sys.exit(row_stream._child_main(sys.argv[1:]))
