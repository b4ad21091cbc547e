"""The project's own import, timed: (d) over HTTP with POST /reload, while a reader lists another tenant,
and (e) through the CLI, `moviemanager load`."""

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from catalog_files import timed_generate, write_prefix
from harness import TENANT, Bench, CaseResult, checkpoint, fmt_ms, mib, psql, tail
from server_process import PROJECT_ROOT, Reader, Server, project_env, upload

READER_TENANT = "bench_reader"
SMALL_TENANT = "bench_small"
CLI_TENANT = "bench_cli"
READER_SEED_OFFSET = 1000


# ---------------------------------------------------------------- (d) ours over HTTP


def run_http(bench: Bench) -> list[CaseResult]:
    """Two fresh servers, so each peak RSS belongs to one file size.

    The first reloads a prefix of the catalog (its peak RSS is read right after), then loads the reader
    tenant. The second reloads the whole catalog twice while the reader tenant is listed.
    """
    results = []
    with Server(bench, "server_small.log") as server:
        bench.figures["server_idle_rss_kib"] = server.memory_kib("VmRSS")
        results.append(reload_prefix(bench, server))
        load_reader_tenant(bench, server)
    with Server(bench, "server_big.log") as server:
        checkpoint(bench)
        results.append(reload_under_reads(bench, server, "(d) ours HTTP: reload, new tenant"))
        checkpoint(bench)
        results.append(reload_under_reads(bench, server, "(d) ours HTTP: reload again, replace"))
        bench.figures["server_peak_rss_kib"] = server.memory_kib("VmHWM")
    bench.figures["vacuum_debt"] = dead_tuples(bench)
    return results


def reload_prefix(bench: Bench, server: Server) -> CaseResult:
    rows = bench.small_rows
    prefix = write_prefix(bench.catalog, bench.workdir / f"prefix_{rows}.csv", rows)
    checkpoint(bench)
    seconds, reply = upload(server, SMALL_TENANT, prefix)
    bench.figures["server_small_peak_rss_kib"] = server.memory_kib("VmHWM")
    name = "(d) ours HTTP: prefix, fresh server"
    print(f"{name}: {json.dumps(reply)}", flush=True)
    loaded = reply.get("loaded", rows)
    return CaseResult(name, loaded, seconds, notes="for the peak RSS ratio", details={"reply": reply})


def load_reader_tenant(bench: Bench, server: Server) -> None:
    reader_file = timed_generate(
        bench.workdir / f"reader_{bench.args.reader_rows}.csv",
        bench.args.reader_rows,
        bench.args.seed + READER_SEED_OFFSET,
    )
    seconds, reply = upload(server, READER_TENANT, reader_file)
    print(f"loaded {READER_TENANT} in {seconds:.1f} s: {json.dumps(reply)}", flush=True)


def reload_under_reads(bench: Bench, server: Server, name: str) -> CaseResult:
    reader = Reader(server, READER_TENANT, bench.args.reader_rows, bench.args.reader_pause)
    reader.start()
    try:
        seconds, reply = upload(server, TENANT, bench.catalog)
    finally:
        reader.stop()
    print(f"{name}: {json.dumps(reply)}", flush=True)
    reads = reader.summary()
    notes = f"{reads['requests']} reads during: p50 {fmt_ms(reads['p50_ms'])}, p99 {fmt_ms(reads['p99_ms'])}"
    details = {"reply": reply, "reads": reads}
    return CaseResult(name, reply.get("loaded", bench.rows), seconds, notes=notes, details=details)


def dead_tuples(bench: Bench) -> dict[str, Any]:
    """n_dead_tup of the movies* tables; read after the server stopped, so its backends have flushed."""
    time.sleep(1)
    query = (
        "SELECT coalesce(sum(n_dead_tup), 0), coalesce(sum(n_live_tup), 0), "
        "coalesce(string_agg(relname, ' ' ORDER BY relname), ''), coalesce(max(last_autovacuum)::text, 'never') "
        "FROM pg_stat_user_tables WHERE relname LIKE 'movies%'"
    )
    dead, live, tables, last_autovacuum = psql(bench.sql_url, query).split("|")
    return {"n_dead_tup": int(dead), "n_live_tup": int(live), "tables": tables, "last_autovacuum": last_autovacuum}


# ---------------------------------------------------------------- (e) ours via CLI


def run_measured(command: list[str], env: dict[str, str], log_path: Path) -> tuple[int, float, int]:
    """Run to completion; (exit code, wall seconds, peak RSS in KiB of the largest process in its tree).

    os.wait4's rusage covers the child and every descendant it waited for, such as the Python that
    `uv run` starts.
    """
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, time.perf_counter() - started, usage.ru_maxrss


def run_cli(bench: Bench) -> CaseResult:
    log_path = bench.workdir / "cli.log"
    command = ["uv", "run", "--no-sync", "moviemanager", "load", CLI_TENANT, str(bench.catalog)]
    checkpoint(bench)
    code, seconds, peak_kib = run_measured(command, project_env(bench), log_path)
    output = tail(log_path.read_text(errors="replace"))
    if code != 0:
        raise RuntimeError(f"exit code {code}: {output}")
    bench.figures["cli_peak_rss_kib"] = peak_kib
    print(f"(e) ours CLI output: {output}", flush=True)
    return CaseResult("(e) ours CLI: moviemanager load", bench.rows, seconds, notes=f"peak RSS {mib(peak_kib)}")
