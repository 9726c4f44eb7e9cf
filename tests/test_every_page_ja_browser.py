"""Every page a person can reach, in Japanese, in headless Chromium.

A superuser's browser asking for Japanese walks the admin index and then each page's
links (same origin, GET only: no logout, delete, history or filtered/sorted variants;
one page per kind, a row's change page standing for all of its model's rows) and
checks each page: it answers 200 (after any redirect), shows no server error, says
``<html lang="ja">`` and its ``<h1>`` (or, without one, its title) has Japanese in it.

Pages other engineers are translating right now are listed in ``NOT_YET_JAPANESE`` with
the reason; the test fails when one of them already reads in Japanese, so the list can
only shrink (and when a listed page is no longer found, so it does not go stale).
"""

from __future__ import annotations

import re
from urllib.parse import urldefrag, urlparse

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import Page

from goals.services.loop import loop_start
from tests.admin_population import admin_population_grow
from tests.goals.factories import catalogue_rows_seed
from tests.goals.home_setup import decision_pending, goal_behind
from tests.walk_ja import is_japanese
from tests.workflows.factories import RunFactory
from workflows.models import Collection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: Page kinds (paths with ids as ``<id>``) whose heading is not Japanese yet, and why.
NOT_YET_JAPANESE: dict[str, str] = {}

#: Pages whose ``<h1>`` is the row's own text (a theme's name, a snapshot's label: shown
#: as written); their breadcrumbs say in Japanese where the person is instead.
HEADING_IS_DATA = {
    "/admin/ideas/theme/<id>/preview/",
    "/admin/ideas/snapshot/<id>/change/",
}

#: Pages a person must be able to reach by following links from the admin index; the
#: walk fails when one of them is no longer linked (or no longer found).
MUST_REACH = {
    "/",
    "/admin/",
    "/admin/decisions/decision/queue/",
    "/admin/goals/loopstate/studio/",
    "/admin/ideas/theme/upload/",
    "/admin/goals/goal/add/",
    "/admin/goals/goal/<id>/change/",
    "/admin/goals/catalogueitem/",
    "/admin/decisions/telegramlink/link/",
    "/admin/decisions/telegramlink/notifications/",
    "/admin/ideas/snapshot/",
    "/admin/workflows/run/<id>/change/",
    "/admin/workflows/workflow/<id>/change/",
}

#: Links a person follows that change something or leave the pages: never walked.
SKIP = re.compile(
    r"/(logout|delete|history)/|/i18n/|/static/|/media/|/api/|/jsi18n/|"
    r"/password_change/|/r/\d+/"
)
#: Ids in paths: a number, a uuid, or a key made of words and digits after a model.
_ID = re.compile(r"/(\d+|[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{32,})(?=/)")
SERVER_ERROR = re.compile(r"Server Error|Traceback|Internal Server Error|Page not found")


def kind_of(path: str) -> str:
    """The page kind: the path with its ids replaced, so one row stands for all."""
    return _ID.sub("/<id>", path)


def _populate() -> None:
    """A row in every table a person looks at, made by the same helpers the tests use."""
    admin_population_grow(rows=1)
    goal_behind()
    decision_pending(title="Refund the angry customer")
    RunFactory()
    catalogue_rows_seed()
    loop_start()
    Group.objects.create(name="Studio staff")
    Collection.objects.create(slug="faq", name="FAQ")


def _links(page: Page, origin: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    found = []
    for href in hrefs:
        url = urldefrag(href).url
        parsed = urlparse(url)
        if f"{parsed.scheme}://{parsed.netloc}" != origin or parsed.query:
            continue
        if SKIP.search(parsed.path):
            continue
        found.append(parsed.path)
    return found


def _heading(page: Page, kind: str) -> str:
    if kind in HEADING_IS_DATA:
        return page.locator(".breadcrumbs").inner_text().strip()
    h1 = page.locator("#content h1, main h1, h1")
    if h1.count():
        return h1.first.inner_text().strip()
    return page.title().split(" | ")[0].strip()


def _walk(page: Page, origin: str) -> dict[str, dict[str, str]]:
    """Breadth first from the admin index: each page kind once. Returns, per kind, the
    path visited, its heading and what was wrong with it."""
    queue = ["/", "/admin/"]
    seen_kinds: set[str] = set()
    results: dict[str, dict[str, str]] = {}
    while queue:
        path = queue.pop(0)
        kind = kind_of(path)
        if kind in seen_kinds:
            continue
        seen_kinds.add(kind)
        response = page.goto(path, wait_until="domcontentloaded")
        problems = []
        assert response is not None
        if response.status != 200:
            problems.append(f"HTTP {response.status}")
        if urlparse(page.url).netloc != urlparse(origin).netloc:
            problems.append(f"left the site for {page.url}")
        body = page.locator("body").inner_text()
        if SERVER_ERROR.search(body) or SERVER_ERROR.search(page.title()):
            problems.append("server error text")
        lang = page.locator("html").get_attribute("lang")
        if lang != "ja":
            problems.append(f'<html lang="{lang}">')
        heading = _heading(page, kind)
        results[kind] = {"path": path, "heading": heading, "problems": "; ".join(problems)}
        if response.status == 200 and "text/html" in response.headers.get("content-type", ""):
            queue.extend(p for p in _links(page, origin) if kind_of(p) not in seen_kinds)
    return results


#: Names a Japanese page keeps as they are: the product's and the services'.
PROPER_NOUNS = {"bizagent", "API", "Telegram", "Sheets", "Google", "Whop", "FAQ", "RAG"}
_ENGLISH_WORD = re.compile(r"[A-Za-z][A-Za-z-]{2,}")
#: Pages whose heading carries a row's own name (shown as written) beside Japanese words:
#: a workflow's name on its test-run page, a user name on the password page.
HEADING_HAS_A_NAME = {
    "/admin/workflows/workflow/<id>/run/",
    "/admin/auth/user/<id>/password/",
}


def english_words(heading: str, kind: str) -> list[str]:
    """English words of our own left in a Japanese heading (Django's frame translated
    around a model name nobody translated reads "変更する idea を選択")."""
    if kind in HEADING_IS_DATA or kind in HEADING_HAS_A_NAME:
        return []
    return [word for word in _ENGLISH_WORD.findall(heading) if word not in PROPER_NOUNS]


def reads_japanese(heading: str, kind: str) -> bool:
    return is_japanese(heading) and not english_words(heading, kind)


def language_problems(
    results: dict[str, dict[str, str]], not_yet: dict[str, str]
) -> dict[str, str]:
    """Per page kind, what is wrong with its language: a heading that is English, or
    Japanese around English words of ours, on a page not listed in ``not_yet``; a listed
    page that already reads Japanese (take it out); a listed page that was not found
    (the list went stale)."""
    problems = {}
    for kind, r in results.items():
        if not reads_japanese(r["heading"], kind) and kind not in not_yet:
            problems[kind] = f"heading not Japanese: {r['heading']!r}"
        if kind in not_yet and reads_japanese(r["heading"], kind):
            problems[kind] = "already Japanese: take it out of NOT_YET_JAPANESE"
    for kind in set(not_yet) - results.keys():
        problems[kind] = "listed in NOT_YET_JAPANESE but no longer found"
    return problems


def test_the_language_check_lets_the_list_only_shrink():
    results = {
        "/a/": {"heading": "スタジオ"},
        "/b/": {"heading": "Approval queue"},
        "/c/": {"heading": "Upload documents"},
    }
    assert language_problems(results, {"/b/": "why", "/c/": "why"}) == {}
    assert language_problems(results, {"/b/": "why"}) == {
        "/c/": "heading not Japanese: 'Upload documents'"
    }
    assert language_problems(results, {"/a/": "why", "/b/": "why", "/c/": "why"}) == {
        "/a/": "already Japanese: take it out of NOT_YET_JAPANESE"
    }
    assert language_problems(results, {"/b/": "why", "/c/": "why", "/gone/": "why"}) == {
        "/gone/": "listed in NOT_YET_JAPANESE but no longer found"
    }
    # Django's frame in Japanese around a model name nobody translated is not Japanese;
    # the names of the product and the services stay as they are.
    mixed = {"/d/": {"heading": "変更する idea を選択"}, "/e/": {"heading": "Telegram を連携"}}
    assert language_problems(mixed, {}) == {"/d/": "heading not Japanese: '変更する idea を選択'"}


def test_every_page_a_person_reaches_reads_in_japanese(page_ja: Page, live_server):
    User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    _populate()
    page = page_ja
    # What a page looks like is not checked here: no stylesheets, images or fonts, so
    # the walk of some 75 pages stays quick.
    page.route(
        "**/*",
        lambda route: (
            route.abort()
            if route.request.resource_type in {"stylesheet", "image", "font"}
            else route.fallback()
        ),
    )
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "pw-root-123")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))

    results = _walk(page, live_server.url)
    for kind, r in sorted(results.items()):
        print(kind, "|", r["heading"], "|", r["problems"])

    broken = {kind: r for kind, r in results.items() if r["problems"]}
    assert broken == {}, "pages that fail for a person"
    assert results.keys() >= MUST_REACH, f"not reached: {sorted(MUST_REACH - results.keys())}"

    assert language_problems(results, NOT_YET_JAPANESE) == {}
