"""Generate a deterministic synthetic movie catalog in the seed's CSV format.

    uv run python bench/gen_csv.py --rows 1000000 --seed 1 -o /tmp/movies_1m.csv
    uv run python bench/gen_csv.py --rows 10 --seed 1 -o -              # to stdout
    uv run python bench/gen_csv.py --rows 1000 --bad-row 500 -o bad.csv  # row 500 has Year "abc"

The same arguments always give byte-identical output. Rows look like `src/moviemanager/data/movies.csv`:
Vietnamese titles with diacritics, English original titles, Vietnamese TMDB genre names, prose overviews
that sometimes span lines or hold quotes and commas, and unique, shuffled TMDB ids. Every row passes
the import's validation (`moviemanager.movies.importing.csv_rows`) unless `--bad-row` asks otherwise. Rows average about
485 bytes, so a million rows make a file of about 485 MB. Text is assembled from fixed word pools with
one seeded `random.Random`, which keeps a million rows to a few seconds.
"""

import argparse
import base64
import csv
import io
import random
import sys
import unicodedata
from collections.abc import Iterator
from itertools import permutations
from pathlib import Path
from typing import TextIO

from moviemanager.movies.columns import SEED_COLUMNS

HEADER = list(SEED_COLUMNS)  # the seed's columns, in the seed's order
BAD_YEAR = "abc"
MIN_ID_SPACE = 2_000_000

# fmt: off
GENRES = [
    "Phim Hành Động",
    "Phim Hài",
    "Phim Chính Kịch",
    "Phim Kinh Dị",
    "Phim Gây Cấn",
    "Phim Khoa Học Viễn Tưởng",
    "Phim Lãng Mạn",
    "Phim Lịch Sử",
    "Phim Chiến Tranh",
    "Phim Miền Tây",
    "Phim Hoạt Hình",
    "Phim Tài Liệu",
    "Phim Gia Đình",
    "Phim Giả Tượng",
    "Phim Nhạc",
    "Phim Bí Ẩn",
    "Phim Hình Sự",
    "Phim Phiêu Lưu",
]

TITLE_HEADS = [
    "Bóng Ma", "Người Gác Đèn", "Cơn Bão", "Vũ Điệu", "Kẻ Săn Vàng", "Chú Mèo", "Ký Ức", "Hành Trình",
    "Bí Mật", "Lời Thề", "Đêm Trắng", "Thành Phố", "Tiếng Gọi", "Mùa Hoa", "Cánh Đồng", "Con Đường",
    "Người Lính", "Cô Gái", "Chuyến Tàu", "Ngọn Lửa", "Giấc Mơ", "Bản Tình Ca", "Vùng Đất", "Dòng Sông",
    "Huyền Thoại", "Lá Thư", "Ngôi Nhà", "Sát Thủ", "Thám Tử", "Vương Quốc", "Chiến Binh", "Nàng Tiên",
    "Kẻ Phản Bội", "Biệt Đội", "Hòn Đảo", "Tiếng Chuông",
]
TITLE_TAILS = [
    "Sông Hương", "Cuối Cùng", "Thép", "Trên Mái Nhà", "Miền Tây", "Phi Hành Gia", "Mùa Hạ", "Phương Nam",
    "Không Tên", "Lúc Nửa Đêm", "Bên Kia Núi", "Của Biển Cả", "Hà Nội", "Sài Gòn", "Trong Sương", "Đỏ",
    "Bất Tử", "Vô Hình", "Thời Chiến", "Ngày Mai", "Tuổi Trẻ", "Mất Tích", "Hoàng Hôn", "Tháng Chín",
    "Lưu Đày", "Cát Trắng", "Rực Cháy", "Băng Giá", "Đồng Quê", "Phố Cổ", "Định Mệnh", "Huế Xưa",
]
TITLE_SUFFIXES = ["", "", "", "", "", "", " 2", " 3", ": Phần Cuối", ": Khởi Đầu"]

ORIGINAL_ADJECTIVES = [
    "Last", "Silent", "Steel", "Golden", "Hidden", "Broken", "Lost", "Crimson", "Midnight", "Forgotten",
    "Eternal", "Wild", "Distant", "Burning", "Frozen", "Secret", "Little", "Final", "Paper", "Iron",
]
ORIGINAL_NOUNS = [
    "Lighthouse Keeper", "Tempest", "Waltz", "River", "Hunter", "Garden", "Kingdom", "Letter", "Harbor",
    "Detective", "Soldier", "Journey", "Promise", "Station", "Island", "Melody", "Empire", "Witness",
    "Orchard", "Frontier", "Lantern", "Monsoon", "Voyage", "Shadow",
]
ORIGINAL_PLACES = ["Red Mesa", "Perfume River", "the North", "Hanoi", "Saigon", "the Delta", "Ha Long Bay", "Hue"]

SUBJECTS = [
    "Một nhiếp ảnh gia trẻ", "Ông Tư", "Cô giáo dạy nhạc", "Gã cao bồi Jack Harlan", "Nữ thanh tra Hồng",
    "Một phi công robot bị loại biên", "Hai anh em mồ côi", "Người lính già", "Cô bé mười hai tuổi",
    "Một nhà khoa học lập dị", "Chàng sinh viên nghèo", "Bà cụ bán nước chè", "Nhóm bạn thân thời đại học",
    "Viên cảnh sát trưởng", "Một nữ phóng viên", "Anh thợ sửa điều hòa", "Vị bác sĩ trẻ",
    "Người đánh cá tên Sáu", 'Kẻ trộm được gọi là "Bóng Đêm"', "Một gia đình ba thế hệ",
]
ACTIONS = [
    "trở về quê nhà", "phát hiện bí mật bị chôn giấu", "phải quay lại chiến trường",
    "tình cờ gặp lại mối tình đầu", "băng qua sa mạc để giành lại tấm bản đồ", "nhận được một lá thư lạ",
    "bị cuốn vào một âm mưu lớn", "quyết định mở lại tiệm ăn của cha", "lên đường tìm người em mất tích",
    "tập luyện cho một cuộc thi nghiệp dư", "chứng kiến một vụ án bí ẩn", "phải học cách nói lời từ biệt",
    "đối đầu với tập đoàn tội phạm", "tìm thấy cánh cửa dẫn tới quá khứ", "giữ lời hứa với người bạn cũ",
]
PLACES = [
    "ở Huế", "giữa lòng Sài Gòn", "trên hòn đảo xa", "tại một làng chài nhỏ", "ở Hà Nội, vào mùa đông năm ấy",
    "trên sân thượng chung cư cũ", "ở vùng biên giới phía Bắc", "trong một đêm mưa bão",
    "tại thành phố cảng", "ở miền Tây sông nước", "trên chuyến tàu Bắc Nam", "năm 2071",
]
FOLLOW_UPS = [
    "Càng tìm hiểu, cô càng phát hiện những điều không ai ngờ tới.",
    "Anh chỉ có một đêm để thay đổi tất cả.",
    "Trên đường đi, họ buộc phải hợp tác với chính kẻ thù của mình.",
    "Mỗi lựa chọn đều có cái giá của nó.",
    'Người dân trong làng gọi đó là "lời nguyền của dòng sông".',
    "Tình bạn, lòng tin và tình yêu đều bị thử thách đến giới hạn.",
    "Khi sự thật dần lộ diện, không ai còn an toàn.",
    "Một câu chuyện cảm động về gia đình, ký ức và sự tha thứ.",
    'Câu nói "đừng bao giờ quay lại" cứ vang lên trong đầu anh.',
    "Thời gian không còn nhiều, và kẻ thù thì ở ngay bên cạnh.",
    "Họ phải chọn giữa danh dự, tiền bạc và mạng sống của nhau.",
    "Bộ phim dựa trên một câu chuyện có thật.",
]
# fmt: on


def _slug(text: str) -> str:
    """'Bóng Ma' → 'bong-ma' (accents dropped, đ → d)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return "-".join("".join(char if char.isalnum() else " " for char in bare).split())


GENRE_CELLS = {count: [", ".join(names) for names in permutations(GENRES, count)] for count in (1, 2, 3)}
GENRE_COUNTS = (1, 1, 2, 2, 2, 3)
FOLLOW_UP_RUNS = {count: [list(run) for run in permutations(FOLLOW_UPS, count)] for count in (0, 1, 2)}
FOLLOW_UP_COUNTS = (0, 0, 1, 1, 2)
TITLES = [(f"{head} {tail}", f"{_slug(head)}-{_slug(tail)}") for head in TITLE_HEADS for tail in TITLE_TAILS]
RATINGS = [f"{tenths / 10:.1f}" for tenths in range(101)]
BASE64_TO_ALNUM = bytes.maketrans(b"+/", b"xQ")


class CatalogGenerator:
    """Rows of one catalog; each call to `rows` starts over from the seed."""

    def __init__(self, rows: int, seed: int, bad_row: int | None = None) -> None:
        if rows < 1:
            raise ValueError("rows must be at least 1")
        if bad_row is not None and not 1 <= bad_row <= rows:
            raise ValueError(f"bad row must be between 1 and {rows}")
        self.row_count = rows
        self.seed = seed
        self.bad_row = bad_row

    def rows(self) -> Iterator[list[str]]:
        rng = random.Random(self.seed)
        id_space = max(MIN_ID_SPACE, 2 * self.row_count)
        tmdb_ids = rng.sample(range(1, id_space + 1), self.row_count)
        for number, tmdb_id in enumerate(tmdb_ids, start=1):
            row = self._row(rng, tmdb_id)
            if number == self.bad_row:
                row[HEADER.index("Year")] = BAD_YEAR
            yield row

    def _row(self, rng: random.Random, tmdb_id: int) -> list[str]:
        title, slug = rng.choice(TITLES)
        title += rng.choice(TITLE_SUFFIXES)
        random_bytes = rng.randbytes(51)
        fshare_code = _letters_and_digits(random_bytes[:9]).upper()
        poster = _letters_and_digits(random_bytes[9:30])[:27]
        backdrop = _letters_and_digits(random_bytes[30:])[:27]
        return [
            title,
            f"https://phimmoi.example/phim/{slug}-{tmdb_id}",
            "" if rng.random() < 0.1 else f"https://www.fshare.vn/file/{fshare_code}",
            _original_title(rng),
            rng.choice(GENRE_CELLS[rng.choice(GENRE_COUNTS)]),
            "" if rng.random() < 0.03 else str(rng.randint(1920, 2026)),
            _runtime(rng),
            "" if rng.random() < 0.05 else rng.choice(RATINGS),
            _overview(rng),
            f"https://image.tmdb.org/t/p/w500/{poster}.jpg",
            f"https://image.tmdb.org/t/p/w1280/{backdrop}.jpg",
            str(tmdb_id),
        ]


def _letters_and_digits(random_bytes: bytes) -> str:
    """Base64 text with '+' and '/' replaced, so only letters and digits (4 characters per 3 bytes)."""
    return base64.b64encode(random_bytes).translate(BASE64_TO_ALNUM).decode()


def _original_title(rng: random.Random) -> str:
    adjective, noun = rng.choice(ORIGINAL_ADJECTIVES), rng.choice(ORIGINAL_NOUNS)
    if rng.random() < 0.3:
        return f"The {noun} of {rng.choice(ORIGINAL_PLACES)}"
    return f"The {adjective} {noun}"


def _runtime(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.04:
        return ""
    if kind < 0.16:
        return f"{rng.randint(20, 65)} phút/tập"
    return f"{rng.randint(70, 180)} phút"


def _overview(rng: random.Random) -> str:
    """One to three sentences; one in eight puts each sentence on its own line."""
    first = f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)} {rng.choice(PLACES)}."
    sentences = [first, *rng.choice(FOLLOW_UP_RUNS[rng.choice(FOLLOW_UP_COUNTS)])]
    separator = "\n" if rng.random() < 0.125 else " "
    return separator.join(sentences)


def write_catalog(generator: CatalogGenerator, out: TextIO) -> None:
    """Write the header and every row; `out` must be opened with newline=''."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(generator.rows())


def generate_file(path: Path, rows: int, seed: int, bad_row: int | None = None) -> Path:
    """Write a catalog to `path` (used by bench/import.py) and return the path."""
    with path.open("w", encoding="utf-8", newline="", buffering=1 << 20) as out:
        write_catalog(CatalogGenerator(rows, seed, bad_row), out)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a deterministic synthetic movie catalog CSV")
    parser.add_argument("--rows", type=int, required=True, help="Data rows to write")
    parser.add_argument("--seed", type=int, default=1, help="Random seed (default: %(default)s)")
    parser.add_argument("-o", "--output", default="-", help="Output file, or - for stdout (default: %(default)s)")
    parser.add_argument("--bad-row", type=int, metavar="N", help=f"Make data row N invalid (Year {BAD_YEAR!r})")
    args = parser.parse_args(argv)
    try:
        generator = CatalogGenerator(args.rows, args.seed, args.bad_row)
    except ValueError as exc:
        parser.error(str(exc))
    if args.output == "-":
        out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        write_catalog(generator, out)
        out.flush()
        out.detach()
    else:
        with open(args.output, "w", encoding="utf-8", newline="", buffering=1 << 20) as out:
            write_catalog(generator, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
