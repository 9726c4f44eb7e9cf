"""``manage.py rag``: create a collection, add files (all or none), search it; bad input
is a CommandError naming the problem with nothing written."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from workflows.models import Collection, Document


def _run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("rag", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def files(tmp_path):
    returns = tmp_path / "returns.md"
    returns.write_text("返品ポリシー\n\n30日以内なら返品できます。", encoding="utf-8")
    shipping = tmp_path / "shipping.txt"
    shipping.write_text("Orders ship in two days. Returns within 30 days.", encoding="utf-8")
    return returns, shipping


@pytest.mark.django_db
def test_it_creates_adds_and_searches(files):
    returns, shipping = files
    assert "created collection help" in _run("create", "help", "--name", "Help centre")
    out = _run("add", "help", str(returns), str(shipping))
    assert "added: returns.md as document #" in out
    assert "added: shipping.txt as document #" in out
    assert Collection.objects.get(slug="help").name == "Help centre"
    assert Document.objects.count() == 2
    out = _run("search", "help", "返品")
    assert out.startswith("1. ")
    assert "returns (returns.md #0)" in out
    results = json.loads(_run("search", "help", "returns", "--json"))
    assert [r["source"] for r in results] == ["shipping.txt"]


@pytest.mark.django_db
def test_adding_an_unchanged_file_again_changes_nothing(files):
    returns, _ = files
    _run("create", "help")
    _run("add", "help", str(returns), "--title", "Returns policy")
    out = _run("add", "help", str(returns))
    assert "unchanged: returns.md (already document #" in out
    assert list(Document.objects.values_list("title", flat=True)) == ["Returns policy"]


@pytest.mark.django_db
def test_an_unknown_collection_is_named(files):
    with pytest.raises(CommandError, match="no document collection is called 'nope'"):
        _run("add", "nope", str(files[0]))
    with pytest.raises(CommandError, match="no document collection is called 'nope'"):
        _run("search", "nope", "返品")


@pytest.mark.django_db
def test_an_empty_or_binary_file_adds_nothing(files, tmp_path):
    _run("create", "help")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "image.md"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(CommandError, match=r"empty\.txt: the file is empty"):
        _run("add", "help", str(files[0]), str(empty))
    with pytest.raises(CommandError, match=r"image\.md: a binary file"):
        _run("add", "help", str(binary))
    assert Document.objects.count() == 0


@pytest.mark.django_db
def test_a_missing_file_is_named(tmp_path):
    _run("create", "help")
    with pytest.raises(CommandError, match=r"nothere\.txt: cannot read it"):
        _run("add", "help", str(tmp_path / "nothere.txt"))


@pytest.mark.django_db
def test_a_search_with_no_match_says_so(files):
    _run("create", "help")
    _run("add", "help", str(files[1]))
    assert _run("search", "help", "quantum").strip() == "no matches"
