"""The Harmony vocab, with no internet.

openai-harmony loads ``o200k_base.tiktoken`` from ``TIKTOKEN_ENCODINGS_BASE`` when that
is set, and otherwise tries to download it. We never let it download: when the operator
has not pointed ``TIKTOKEN_ENCODINGS_BASE`` at a directory, we build the file once into a
cache directory from the vocab that the PyPI package ``quicktok-v1`` ships
(``quicktok/data/o200k.vocab``), check its SHA-256, and point the variable there.

The shipped format is a little-endian u32 count, then per token a u16 length, the token
bytes and a u32 rank. Written as ``base64(bytes) rank\\n`` in rank order it reproduces
the official file byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import os
import struct
import tempfile
import threading
from pathlib import Path

from bizagent.llm.errors import LLMConfigurationError

VOCAB_FILENAME = "o200k_base.tiktoken"
VOCAB_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
SOURCE_PACKAGE = "quicktok"
SOURCE_RESOURCE = "data/o200k.vocab"

_lock = threading.Lock()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def vocab_convert(raw: bytes) -> bytes:
    """Turn quicktok's binary vocab into the text ``.tiktoken`` format, ranks ascending."""
    try:
        (count,) = struct.unpack_from("<I", raw, 0)
        offset = 4
        entries: list[tuple[int, bytes]] = []
        for _ in range(count):
            (length,) = struct.unpack_from("<H", raw, offset)
            offset += 2
            token = raw[offset : offset + length]
            if len(token) != length:
                raise ValueError("token runs past the end of the file")
            offset += length
            (rank,) = struct.unpack_from("<I", raw, offset)
            offset += 4
            entries.append((rank, token))
    except (struct.error, ValueError) as exc:
        raise LLMConfigurationError(
            f"the shipped vocab is not in the expected format: {exc}"
        ) from exc
    if offset != len(raw):
        raise LLMConfigurationError(
            f"the shipped vocab has {len(raw) - offset} unexpected trailing bytes"
        )
    entries.sort()
    return b"".join(base64.b64encode(token) + b" %d\n" % rank for rank, token in entries)


def _source_bytes() -> bytes:
    try:
        resource = importlib.resources.files(SOURCE_PACKAGE).joinpath(SOURCE_RESOURCE)
        return resource.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise LLMConfigurationError(
            f"cannot build {VOCAB_FILENAME}: the package quicktok-v1 (which ships "
            f"{SOURCE_PACKAGE}/{SOURCE_RESOURCE}) is not installed. Install it with "
            "`pip install 'quicktok-v1>=0.4,<0.5'`, or put the official "
            f"{VOCAB_FILENAME} in a directory and set TIKTOKEN_ENCODINGS_BASE to it."
        ) from exc


def vocab_provision(cache_dir: Path) -> Path:
    """Make sure ``cache_dir/o200k_base.tiktoken`` exists with the right hash; return its path.

    A file already present with the right hash is used as is (nothing is read from the
    package). A present file with a wrong hash is refused, never silently replaced: it
    may be an operator's file, and a wrong vocab would corrupt every prompt.
    """
    target = cache_dir / VOCAB_FILENAME
    with _lock:
        if target.exists():
            actual = sha256_file(target)
            if actual != VOCAB_SHA256:
                raise LLMConfigurationError(
                    f"{target} has SHA-256 {actual}, expected {VOCAB_SHA256}. Delete it so it "
                    "is rebuilt from the quicktok-v1 package, or replace it with the official file."
                )
            return target
        data = vocab_convert(_source_bytes())
        actual = hashlib.sha256(data).hexdigest()
        if actual != VOCAB_SHA256:
            raise LLMConfigurationError(
                f"the vocab built from the installed quicktok-v1 has SHA-256 {actual}, expected "
                f"{VOCAB_SHA256}. Install quicktok-v1 0.4.x, or put the official {VOCAB_FILENAME} "
                "in a directory and set TIKTOKEN_ENCODINGS_BASE to it."
            )
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a reader never sees half a file.
        fd, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=".o200k-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return target


def vocab_ensure(cache_dir: Path) -> Path:
    """Point openai-harmony at a verified vocab directory and return that directory.

    Honours ``TIKTOKEN_ENCODINGS_BASE`` when the operator set it (the file must be there);
    otherwise provisions into ``cache_dir`` and sets the variable for this process.
    """
    configured = os.environ.get("TIKTOKEN_ENCODINGS_BASE", "").strip()
    if configured:
        directory = Path(configured)
        target = directory / VOCAB_FILENAME
        if not target.is_file():
            raise LLMConfigurationError(
                f"TIKTOKEN_ENCODINGS_BASE is {configured!r} but {VOCAB_FILENAME} is not there. "
                "Put the file there, or unset the variable to build it from quicktok-v1."
            )
        actual = sha256_file(target)
        if actual != VOCAB_SHA256:
            raise LLMConfigurationError(
                f"{target} (from TIKTOKEN_ENCODINGS_BASE) has SHA-256 {actual}, expected "
                f"{VOCAB_SHA256}. Replace it with the official file, or unset the variable."
            )
        return directory
    vocab_provision(cache_dir)
    os.environ["TIKTOKEN_ENCODINGS_BASE"] = str(cache_dir)
    return cache_dir
