"""The benchmarks' generated catalogs (bench/gen_csv.py) are valid catalogs: a benchmark that
loads a file the import refuses measures nothing."""

import io
import sys
from pathlib import Path

import pytest

from moviemanager.errors import InvalidCsv

from ...factories import read_catalog

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from gen_csv import CatalogGenerator, write_catalog  # noqa: E402


def generated(rows: int, bad_row: int | None = None) -> bytes:
    out = io.StringIO(newline="")
    write_catalog(CatalogGenerator(rows, seed=1, bad_row=bad_row), out)
    return out.getvalue().encode("utf-8")


def test_every_generated_row_is_valid():
    assert len(read_catalog(io.BytesIO(generated(500)))) == 500


def test_the_bad_row_is_the_only_problem():
    with pytest.raises(InvalidCsv) as refused:
        read_catalog(io.BytesIO(generated(50, bad_row=7)))
    assert [(problem.line, problem.column) for problem in refused.value.problems] == [(8, "Year")]
