"""Bytes to lines without a database: byte order marks, named encodings, errors that name the line."""

import codecs
import io

import pytest

from moviemanager.errors import InvalidCsv, InvalidUpload
from moviemanager.movies.importing import encodings
from moviemanager.movies.importing.encodings import check_encoding, decode_lines

TEXT = 'Tên,Năm\r\nHài Hước,2001\r\n"Hai\ndòng",2002\r\n'


def lines(data: bytes, encoding: str | None = None) -> list[str]:
    return list(decode_lines(io.BytesIO(data), encoding))


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode(),
        codecs.BOM_UTF8 + TEXT.encode(),
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    ],
    ids=["utf-8", "utf-8 with BOM", "utf-16-le with BOM", "utf-16-be with BOM"],
)
def test_byte_order_marks_pick_the_encoding_and_vanish(data):
    assert "".join(lines(data)) == TEXT
    assert lines(data)[2] == '"Hai\n'  # a line break inside quotes is still a line for the parser


def test_a_named_encoding_is_used():
    assert "".join(lines("Café,1\n".encode("cp1252"), "cp1252")) == "Café,1\n"
    assert "".join(lines(codecs.BOM_UTF8 + b"x\n", "utf-8")) == "x\n"  # the BOM goes, named or not


def test_the_last_line_may_lack_a_line_break():
    assert lines(b"a\nb") == ["a\n", "b"]


def test_an_undecodable_byte_names_its_line_even_chunks_later(monkeypatch):
    monkeypatch.setattr(encodings, "CHUNK_BYTES", 7)  # many chunks, lines split across them
    data = b"header\n" + b"".join(b"row %d\n" % i for i in range(2, 40)) + b"caf\xe9\n"
    with pytest.raises(InvalidCsv) as raised:
        lines(data)
    [problem] = raised.value.problems
    assert problem.line == 40
    assert "not valid UTF-8 (byte 0xe9)" in problem.reason and "encoding=cp1252" in problem.reason


def test_a_truncated_multibyte_character_at_the_end_is_reported():
    with pytest.raises(InvalidCsv) as raised:
        lines(b"a\nb\n\xc3")
    assert raised.value.problems[0].line == 3


def test_utf16_without_a_bom_can_be_named():
    assert "".join(lines(TEXT.encode("utf-16-le"), "utf-16-le")) == TEXT


@pytest.mark.parametrize("name", ["klingon", "rot13", "base64", "zlib"])
def test_names_that_are_not_text_encodings_are_refused(name):
    with pytest.raises(InvalidUpload):
        check_encoding(name)


def test_encoding_names_are_canonical():
    assert check_encoding("UTF8") == "utf-8"
    assert check_encoding("latin1") == "iso8859-1"
