"""What every benchmark case shares: the run's settings and results, psql, and log and number formatting."""

import argparse
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

TENANT = "bench"
LOG_TAIL_LINES = 15
LOG_TAIL_CHARS = 1500


@dataclass
class CaseResult:
    name: str
    rows: int
    seconds: float | None = None
    error: str | None = None
    notes: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.seconds else None


@dataclass
class Bench:
    """What every case needs: the arguments, the database URLs and the files."""

    args: argparse.Namespace
    sql_url: str  # postgresql://…, for psql
    workdir: Path
    catalog: Path
    rows: int
    results: list[CaseResult] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def small_rows(self) -> int:
        """Rows of the prefix reloaded on a fresh server, for the peak RSS comparison."""
        if self.args.small_rows:
            return min(self.args.small_rows, self.rows)
        return min(100_000, max(1, self.rows // 10))

    @property
    def asyncpg_url(self) -> str:
        return make_url(self.sql_url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


# ---------------------------------------------------------------- database administration (psql)


def psql(url: str, *commands: str) -> str:
    """Run psql commands (SQL or backslash commands) in one session; return the unaligned output."""
    argv = ["psql", url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"]
    for command in commands:
        argv += ["-c", command]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"psql failed: {tail(done.stderr)}")
    return done.stdout.strip()


def recreate_database(sql_url: str) -> None:
    url = make_url(sql_url)
    name = url.database or ""
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    admin_url = url.set(database="postgres").render_as_string(hide_password=False)
    psql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


def checkpoint(bench: Bench) -> None:
    """Write out the previous case's dirty pages, so the next case does not pay for them."""
    psql(bench.sql_url, "CHECKPOINT")


# ---------------------------------------------------------------- formatting


def tail(text: str, lines: int = LOG_TAIL_LINES, chars: int = LOG_TAIL_CHARS) -> str:
    """The end of a log: its last lines, cut to the last characters (a JSON log line can be long)."""
    return "\n".join(text.strip().splitlines()[-lines:])[-chars:]


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:,.0f} MiB"


def fmt_ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms"
