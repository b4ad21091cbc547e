"""The admin page in a real browser: sign in, check a CSV with a dry run, apply it, a refused shrink."""

import re

import pytest

from ..conftest import ADMIN_TOKEN
from ..factories import catalog_csv, movie
from .conftest import PASSWORD, USER, movies_of, screenshot, upload_as_admin

pytestmark = pytest.mark.database


def expect():
    from playwright.sync_api import expect

    return expect


def sign_in_with_token(page, token: str = ADMIN_TOKEN) -> None:
    page.goto("/admin")
    page.fill("#token", token)
    page.click("#paste button")
    expect()(page.locator("#work")).to_be_visible()


def choose(page, tenant: str, rows: list[dict[str, str]], tmp_path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_bytes(catalog_csv(rows))
    page.fill("#new-tenant", tenant)
    page.set_input_files("#file", str(path))


def test_sign_in_shows_only_the_tenants_the_user_may_write(page):
    page.goto("/admin")
    page.fill("#username", USER)
    page.fill("#password", "wrong password")
    page.click("#login button")
    expect()(page.locator("#message")).to_contain_text("password")  # the API's detail, in the page
    page.fill("#password", PASSWORD)
    page.click("#login button")
    expect()(page.locator("#who")).to_have_text(f"Signed in as {USER}")
    expect()(page.locator("#tenant option")).to_have_text(["trending"])
    expect()(page.locator("#new-tenant-row")).to_be_hidden()
    expect()(page.locator("#export")).to_have_attribute("href", "/movies.csv?tenant=trending")
    screenshot(page, "admin-signed-in")
    page.reload()  # the token stays for the tab
    expect()(page.locator("#who")).to_have_text(f"Signed in as {USER}")
    page.click("#signout")
    expect()(page.locator("#signin")).to_be_visible()


def test_a_bad_row_shows_the_error_table_and_changes_nothing(page, live_server, tmp_path):
    assert upload_as_admin(live_server, "web_bad", catalog_csv([movie(1), movie(2)])).status_code == 200
    sign_in_with_token(page)
    choose(page, "web_bad", [movie(1), movie(2, Year="19x5"), movie(3)], tmp_path)
    page.click("#check")
    expect()(page.locator("#message")).to_contain_text("Invalid CSV: line 3")
    row = page.locator("#report table tbody tr").first
    expect()(row).to_contain_text("Year")
    expect()(row).to_contain_text("19x5")
    expect()(page.locator("#apply")).to_be_disabled()
    screenshot(page, "admin-errors")
    assert [m["tmdb_id"] for m in movies_of(live_server, "web_bad")] == ["1", "2"]


def test_a_good_upload_is_checked_then_applied_and_the_grid_shows_it(page, live_server, tmp_path):
    assert upload_as_admin(live_server, "web_good", catalog_csv([movie(1), movie(2)])).status_code == 200
    rows = [movie(1), movie(2, Movie_Name="Tên Mới Của Phim"), movie(3)]
    sign_in_with_token(page)
    choose(page, "web_good", rows, tmp_path)
    page.click("#check")
    expect()(page.locator("#report h3")).to_have_text("What the import would do (nothing changed yet)")
    expect()(page.locator("#counts tbody td")).to_have_text(["1", "1", "0", "1", "0", "3"])
    expect()(page.locator("#progress")).to_have_attribute("value", "1")
    assert len(movies_of(live_server, "web_good")) == 2  # a dry run writes nothing
    screenshot(page, "admin-dry-run")
    page.click("#apply")
    expect()(page.locator("#message")).to_have_text("Imported: web_good")
    page.goto("/?tenant=web_good")
    expect()(page.locator("#grid > li.card")).to_have_count(3)
    expect()(page.locator("#grid")).to_contain_text("Tên Mới Của Phim")


def test_a_refused_shrink_is_explained_and_can_be_allowed(page, live_server, tmp_path):
    assert upload_as_admin(live_server, "web_shrink", catalog_csv([movie(i) for i in range(1, 21)])).status_code == 200
    sign_in_with_token(page)
    choose(page, "web_shrink", [movie(1)], tmp_path)
    page.click("#check")
    expect()(page.locator("#message")).to_contain_text("allow_shrink")
    expect()(page.locator("#shrink-help")).to_be_visible()
    expect()(page.locator("#allow-shrink")).to_be_focused()
    page.check("#allow-shrink")
    page.click("#check")
    expect()(page.locator("#counts tbody td").nth(2)).to_have_text("19")  # deleted
    page.click("#apply")
    expect()(page.locator("#message")).to_have_text("Imported: web_shrink")
    assert [m["tmdb_id"] for m in movies_of(live_server, "web_shrink")] == ["1"]


def test_reload_the_default_csv(page, live_server):
    sign_in_with_token(page)
    page.select_option("#tenant", "tv_serials")
    page.click("#reload-default")
    expect()(page.locator("#message")).to_have_text(re.compile(r"Reloaded from the default CSV: tv_serials"))
    expect()(page.locator("#counts")).to_be_visible()
