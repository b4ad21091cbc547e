"""The catalog and movie pages in a real browser (Debian's chromium), against a live server with the
default tenants: grids, filters in the URL, type-ahead, the category tree, Back, placeholders."""

import re

import pytest

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
