"""The catalog and movie pages in a real browser (Debian's chromium), against a live server with the
default tenants: grids, filters in the URL, type-ahead, the category tree, Back, placeholders."""

import re

import httpx
import pytest

from ..conftest import ADMIN
from ..factories import catalog_csv, movie
from .conftest import movies_of, screenshot, serious_violations

pytestmark = pytest.mark.database

CARDS = "#grid > li.card"


def expect():
    from playwright.sync_api import expect

    return expect


@pytest.mark.parametrize("tenant", ["movies", "trending", "tv_serials"])
def test_each_default_tenant_grid_renders(page, live_server, tenant):
    page.goto(f"/?tenant={tenant}")
    count = len(movies_of(live_server, tenant))
    expect()(page.locator(CARDS)).to_have_count(count)
    expect()(page.locator("#results-h")).to_have_text(f"{count} movies")
    expect()(page.locator("#f-tenant")).to_have_value(tenant)
    screenshot(page, f"catalog-{tenant}")


def test_a_filter_narrows_the_grid_and_the_url(page):
    page.goto("/?tenant=movies")
    before = page.locator(CARDS).count()
    page.select_option("#f-genre", "35")  # Comedy
    page.wait_for_url(re.compile(r"genre=35"))
    expect()(page.locator("#f-genre")).to_have_value("35")
    after = page.locator(CARDS).count()
    assert 0 < after < before
    for genres in page.locator(f"{CARDS} .genres").all_inner_texts():
        assert "Comedy" in genres
    screenshot(page, "catalog-filtered")
    page.reload()  # the URL alone reproduces the view
    expect()(page.locator(CARDS)).to_have_count(after)
    expect()(page.locator("#f-genre")).to_have_value("35")


def test_search_finds_an_accented_title_typed_without_accents(page):
    page.goto("/?tenant=movies")
    page.locator("#f-q").press_sequentially("nguoi gac", delay=30)
    page.wait_for_url(re.compile(r"q=nguoi\+gac"))
    expect()(page.locator(f"{CARDS} h3").first).to_have_text("Người Gác Đèn Cuối Cùng")
    expect()(page.locator("#f-q")).to_be_focused()
    screenshot(page, "catalog-search")


def test_the_category_tree_filters_the_grid_to_its_subtree(page):
    page.goto("/?tenant=movies")
    node = page.locator(".tree li", has=page.locator("a", has_text=re.compile(r"^Action$"))).first
    movie_count, total = node.locator(".n").first.inner_text().split("/")
    node.locator("a", has_text=re.compile(r"^Action$")).first.click()
    page.wait_for_url(re.compile(r"category=1\b"))
    expect()(page.locator(CARDS)).to_have_count(int(total))
    expect()(page.locator('.tree a[aria-current="true"]')).to_have_text("Action")
    screenshot(page, "catalog-category")


def test_back_returns_to_the_same_filtered_grid(page):
    page.goto("/?tenant=movies")
    page.select_option("#f-rating", "7")
    page.wait_for_url(re.compile(r"rating_gte=7"))
    titles = page.locator(f"{CARDS} h3").all_inner_texts()
    page.locator(f"{CARDS} a").first.click()
    page.wait_for_url(re.compile(r"/movie/movies/\d+"))
    page.go_back()
    page.wait_for_url(re.compile(r"rating_gte=7"))
    expect()(page.locator("#f-rating")).to_have_value("7")
    assert page.locator(f"{CARDS} h3").all_inner_texts() == titles
    page.go_back()  # before the filter
    page.wait_for_url(re.compile(r"tenant=movies$"))
    expect()(page.locator("#f-rating")).to_have_value("")
    assert page.locator(CARDS).count() > len(titles)


@pytest.fixture(scope="module")
def long_catalog(live_server) -> str:
    """A tenant of 160 movies, half of them comedies: more than one page, filtered or not."""
    rows = [movie(i, Genre="Phim Hài" if i % 2 else "Phim Tài Liệu") for i in range(1, 161)]
    files = {"file": ("c.csv", catalog_csv(rows), "text/csv")}
    response = httpx.post(f"{live_server}/reload", params={"tenant": "longlist"}, headers=ADMIN, files=files)
    assert response.status_code == 200, response.text
    return "longlist"


def test_more_is_in_the_url_so_a_reload_or_a_link_shows_the_same_cards(page, long_catalog):
    page.goto(f"/?tenant={long_catalog}")
    page.select_option("#f-genre", "35")  # Comedy: 80 movies
    page.wait_for_url(re.compile(r"genre=35"))
    expect()(page.locator(CARDS)).to_have_count(50)
    page.locator("a.more").click()
    expect()(page.locator(CARDS)).to_have_count(80)
    page.wait_for_url(re.compile(r"genre=35&shown=80$"))
    expect()(page.locator("a.more")).to_have_count(0)
    titles = page.locator(f"{CARDS} h3").all_inner_texts()
    page.reload()
    assert page.locator(f"{CARDS} h3").all_inner_texts() == titles
    other = page.context.new_page()  # the link alone
    other.goto(page.url)
    assert other.locator(f"{CARDS} h3").all_inner_texts() == titles
    other.close()
    page.go_back()  # before the filter
    page.wait_for_url(re.compile(rf"tenant={long_catalog}$"))
    expect()(page.locator("#f-genre")).to_have_value("")
    expect()(page.locator(CARDS)).to_have_count(50)
    page.go_forward()
    page.wait_for_url(re.compile(r"shown=80$"))
    expect()(page.locator(CARDS)).to_have_count(80)


def test_more_continues_after_the_shown_movies(page, long_catalog):
    page.goto(f"/?tenant={long_catalog}&shown=100")
    expect()(page.locator(CARDS)).to_have_count(100)
    page.locator("a.more").click()
    expect()(page.locator(CARDS)).to_have_count(150)
    page.wait_for_url(re.compile(r"shown=150$"))
    hrefs = page.locator(f"{CARDS} > a").evaluate_all("links => links.map(link => link.getAttribute('href'))")
    ids = [href.rsplit("/", 1)[1] for href in hrefs]
    assert ids == [str(i) for i in range(1, 151)]


@pytest.mark.parametrize(("tmdb_id", "rating"), [("41706", "7.4"), ("379781", "unrated")])
def test_a_movie_page_shows_every_field(page, tmdb_id, rating):
    page.goto(f"/movie/movies/{tmdb_id}")
    expect()(page.locator("h1")).not_to_be_empty()
    expect()(page.locator(".fields")).to_contain_text(rating)
    expect()(page.locator(".fields")).to_contain_text(tmdb_id)
    assert page.locator(".fields a[href^='/?tenant=movies&category=']").count() >= 1
    screenshot(page, f"movie-{rating}")


def test_a_poster_that_fails_to_load_shows_the_placeholder(page):
    page.goto("/?tenant=movies")  # every image host is unreachable here
    poster = page.locator(f"{CARDS} img").first
    expect()(poster).to_have_attribute("src", re.compile(r"^/static/poster\.[0-9a-f]+\.svg$"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=poster.element_handle())
    assert poster.get_attribute("alt").startswith("Poster of ")


def test_an_unknown_tenant_or_movie_is_a_404_page(page):
    response = page.goto("/?tenant=nobody")
    assert response.status == 404
    expect()(page.locator('[role="alert"]')).to_contain_text("nobody")
    response = page.goto("/movie/movies/1")
    assert response.status == 404
    screenshot(page, "not-found")


def test_vietnamese_by_choice(page):
    page.goto("/?tenant=movies")
    page.get_by_role("link", name="Tiếng Việt").click()
    expect()(page.locator("html")).to_have_attribute("lang", "vi")
    expect()(page.locator("#f-genre")).to_contain_text("Phim Hài")
    page.goto("/movie/movies/41706")  # the cookie keeps it
    expect()(page.locator(".fields")).to_contain_text("Phim Chính Kịch")


def test_usable_at_360_pixels(page):
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/?tenant=movies")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "catalog-360px")


@pytest.mark.parametrize(
    "path", ["/?tenant=movies", "/?tenant=movies&genre=35&lang=vi", "/movie/movies/41706", "/admin"]
)
def test_no_serious_accessibility_violations(page, path):
    page.goto(path)
    assert serious_violations(page) == []
