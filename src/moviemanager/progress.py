"""A one-line progress display for long imports on a terminal: rows, rows/s, percent, ETA."""

import sys
from time import monotonic
from typing import TextIO


class ProgressLine:
    """Called with (rows read, bytes read); redraws at most a few times a second."""

    def __init__(self, total_bytes: int | None, stream: TextIO = sys.stderr) -> None:
        self.total_bytes = total_bytes or None
        self.stream = stream
        self.started = monotonic()
        self._drawn_at = 0.0

    def __call__(self, rows: int, bytes_read: int) -> None:
        now = monotonic()
        if now - self._drawn_at < 0.25:
            return
        self._drawn_at = now
        elapsed = max(now - self.started, 1e-6)
        parts = [f"{rows:>12,} rows", f"{rows / elapsed:>9,.0f} rows/s"]
        if self.total_bytes:
            done = min(bytes_read / self.total_bytes, 1.0)
            parts.append(f"{done:>4.0%}")
            if 0 < done < 1:
                parts.append(f"ETA {_duration(elapsed * (1 - done) / done)}")
        self.stream.write("\r" + "  ".join(parts) + "\x1b[K")
        self.stream.flush()

    def finish(self, message: str = "") -> None:
        """Leave the progress line; while the database indexes and swaps, say so."""
        self.stream.write("\r\x1b[K" + message)
        self.stream.flush()


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
