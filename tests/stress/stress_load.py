"""Proof 5, load: a mixed read load with wrk (64 connections, 60 s by default) against
`moviemanager serve` on a scratch embedded PostgreSQL holding the default catalogs and a
10,000-movie tenant. Passes with 0 socket errors and 0 non-2xx answers; prints requests/s and
the latency percentiles wrk measured.

    apt-get install -y wrk
    uv run python tests/stress/stress_load.py [--seconds 60] [--connections 64]
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from common import ADMIN, ScratchPostgres, Service, catalog_csv, movie

# One request of the mix, chosen at random by each wrk request.
LUA = """
local paths = {
  "/movies?tenant=movies",
  "/movies?tenant=movies&genre=Phim%20H%C3%A0i",
  "/movies?tenant=trending&year=2024",
  "/movies/TRENDING_ID?tenant=trending",
  "/movies?tenant=big&limit=100&offset=N",
  "/movies?tenant=big&genre=phim%20hai&limit=20",
  "/movies/N?tenant=big",
  "/tenants",
  "/categories?max_level=1",
}
math.randomseed(os.time())
request = function()
  local path = (paths[math.random(#paths)]:gsub("N", tostring(math.random(1, 9900))))
  return wrk.format("GET", path)
end
"""


def main(seconds: int, connections: int) -> int:
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="mm-load-") as tmp,
        ScratchPostgres(Path(tmp)) as pg,
        Service(pg.dsn, Path(tmp) / "serve.log") as service,
    ):
        big = catalog_csv([movie(i) for i in range(1, 10_001)])
        response = httpx.post(
            f"{service.base_url}/reload",
            params={"tenant": "big"},
            files={"file": ("big.csv", big, "text/csv")},
            headers=ADMIN,
            timeout=300,
        )
        response.raise_for_status()
        script = Path(tmp) / "mix.lua"
        trending = httpx.get(f"{service.base_url}/movies", params={"tenant": "trending", "limit": 1}).json()
        script.write_text(LUA.replace("TRENDING_ID", trending[0]["tmdb_id"]))
        # wrk's default 2 s timeout would count a slow answer on this shared machine as an error.
        command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
        command += ["-s", str(script)]
        print("$", " ".join(command), service.base_url)
        output = subprocess.run([*command, service.base_url], capture_output=True, text=True, check=True).stdout
        print(output)
    errors = re.search(r"Socket errors: (.*)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)
    p99 = re.search(r"99%\s+(\S+)", output).group(1)
    print(
        f"summary: {rate} requests/s, p99 {p99}, socket errors: {errors.group(1) if errors else 'none'}, "
        f"non-2xx: {non_2xx.group(1) if non_2xx else 0}"
    )
    return 0 if not errors and not non_2xx else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    sys.exit(main(args.seconds, args.connections))
