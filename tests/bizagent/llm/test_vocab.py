"""The offline Harmony vocab: built once from quicktok-v1, hash-checked, never downloaded."""

from __future__ import annotations

import hashlib
import struct

import pytest

from bizagent.llm import vocab
from bizagent.llm.errors import LLMConfigurationError
from bizagent.llm.vocab import (
    VOCAB_FILENAME,
    VOCAB_SHA256,
    vocab_convert,
    vocab_ensure,
    vocab_provision,
)


@pytest.fixture
def no_tiktoken_base(monkeypatch):
    monkeypatch.delenv("TIKTOKEN_ENCODINGS_BASE", raising=False)


def test_it_builds_the_official_file_into_a_fresh_cache(tmp_path):
    path = vocab_provision(tmp_path / "cache")
    assert path == tmp_path / "cache" / VOCAB_FILENAME
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == VOCAB_SHA256
    lines = data.splitlines()
    assert len(lines) == 199998
    assert lines[0] == b"IQ== 0"  # "!" is rank 0 in o200k_base
    assert not list(tmp_path.joinpath("cache").glob(".o200k-*")), "no temporary file left behind"


def test_a_present_file_is_used_without_reading_the_package(tmp_path, monkeypatch):
    vocab_provision(tmp_path)

    def must_not_be_called() -> bytes:
        raise AssertionError("the package vocab was read although the file was present")

    monkeypatch.setattr(vocab, "_source_bytes", must_not_be_called)
    assert vocab_provision(tmp_path).read_bytes()[:6] == b"IQ== 0"


def test_a_file_with_the_wrong_hash_is_refused_and_kept(tmp_path):
    target = tmp_path / VOCAB_FILENAME
    target.write_bytes(b"IQ== 0\n")
    with pytest.raises(LLMConfigurationError, match="expected " + VOCAB_SHA256) as info:
        vocab_provision(tmp_path)
    assert "Delete it" in str(info.value)
    assert target.read_bytes() == b"IQ== 0\n", "an operator's file is never silently replaced"


def test_a_package_vocab_that_converts_to_the_wrong_hash_is_refused(tmp_path, monkeypatch):
    fake = struct.pack("<I", 1) + struct.pack("<H", 1) + b"!" + struct.pack("<I", 0)
    monkeypatch.setattr(vocab, "_source_bytes", lambda: fake)
    with pytest.raises(LLMConfigurationError, match=r"Install quicktok-v1 0\.4\.x"):
        vocab_provision(tmp_path)
    assert not (tmp_path / VOCAB_FILENAME).exists(), "nothing half-right is written"


def test_a_missing_source_package_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(vocab, "SOURCE_PACKAGE", "quicktok_not_installed")
    with pytest.raises(LLMConfigurationError, match="pip install 'quicktok-v1") as info:
        vocab_provision(tmp_path)
    assert "TIKTOKEN_ENCODINGS_BASE" in str(info.value)


def test_conversion_orders_by_rank_and_rejects_garbage():
    raw = struct.pack("<I", 2)
    raw += struct.pack("<H", 2) + b"ab" + struct.pack("<I", 1)
    raw += struct.pack("<H", 1) + b"z" + struct.pack("<I", 0)
    assert vocab_convert(raw) == b"eg== 0\nYWI= 1\n"
    with pytest.raises(LLMConfigurationError, match="not in the expected format"):
        vocab_convert(raw[:-3])
    with pytest.raises(LLMConfigurationError, match="trailing bytes"):
        vocab_convert(raw + b"\x00")


def test_ensure_points_harmony_at_the_cache(tmp_path, no_tiktoken_base, monkeypatch):
    import os

    assert vocab_ensure(tmp_path / "v") == tmp_path / "v"
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(tmp_path / "v")


def test_ensure_honours_the_operator_directory(tmp_path, monkeypatch):
    vocab_provision(tmp_path / "mine")
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", str(tmp_path / "mine"))
    assert vocab_ensure(tmp_path / "unused") == tmp_path / "mine"
    assert not (tmp_path / "unused").exists()


def test_ensure_refuses_an_operator_directory_without_the_file_or_with_a_bad_one(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", str(tmp_path))
    with pytest.raises(LLMConfigurationError, match="is not there"):
        vocab_ensure(tmp_path / "unused")
    (tmp_path / VOCAB_FILENAME).write_bytes(b"garbage")
    with pytest.raises(LLMConfigurationError, match="from TIKTOKEN_ENCODINGS_BASE"):
        vocab_ensure(tmp_path / "unused")
