"""Cut a document's text into passages: by paragraph, under a size cap, overlapping.

Paragraphs (blank-line separated) are packed into chunks of at most ``max_chars``; a
paragraph longer than that is cut at sentence ends (。！？.!? or a line break), and a
sentence longer than that at ``max_chars``. Each chunk after the first starts with the
last unit of the one before when that unit is at most ``overlap_chars`` long, so a
passage that straddles a boundary is still found whole in one chunk.
"""

from __future__ import annotations

import re

CHUNK_MAX_CHARS = 1200
CHUNK_OVERLAP_CHARS = 300

_PARAGRAPHS = re.compile(r"\n[ \t\r\f\v]*\n")
# After a Japanese full stop no space follows; after a Western one, one does.
_SENTENCES = re.compile(r"(?<=[。！？])|(?<=[.!?])\s+|\n")


def _units(text: str, max_chars: int) -> list[str]:
    units: list[str] = []
    for paragraph in _PARAGRAPHS.split(text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= max_chars:
            units.append(paragraph)
            continue
        for sentence in _SENTENCES.split(paragraph):
            sentence = sentence.strip()
            while len(sentence) > max_chars:
                units.append(sentence[:max_chars])
                sentence = sentence[max_chars:].lstrip()
            if sentence:
                units.append(sentence)
    return units


def chunks_cut(
    text: str, *, max_chars: int = CHUNK_MAX_CHARS, overlap_chars: int = CHUNK_OVERLAP_CHARS
) -> list[str]:
    """The passages of ``text`` in order (an empty list for text with no content)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for unit in _units(text, max_chars):
        added = len(unit) + (2 if current else 0)
        if current and size + added > max_chars:
            chunks.append("\n\n".join(current))
            last = current[-1]
            # Carry the previous unit over when it is short and still leaves room.
            if (
                len(current) > 1
                and len(last) <= overlap_chars
                and len(last) + 2 + len(unit) <= max_chars
            ):
                current, size = [last], len(last)
            else:
                current, size = [], 0
            added = len(unit) + (2 if current else 0)
        current.append(unit)
        size += added
    if current:
        chunks.append("\n\n".join(current))
    return chunks
