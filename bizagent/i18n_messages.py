"""The translation catalogue without GNU gettext: find marked strings, update, compile.

Django's ``makemessages`` and ``compilemessages`` call ``xgettext`` and ``msgfmt``,
which a clean machine may lack. This does both jobs in Python: strings marked in the
apps' Python files (``gettext``, ``gettext_lazy``, ``_``, ``ngettext``, ``pgettext``…)
and templates (``{% translate %}``, ``{% blocktranslate %}``, turned into the same
calls by Django's own ``templatize``) are found by tokenizing, the ``.po`` gains an
empty entry for each new one, and the ``.mo`` is compiled with ``polib`` (pure Python,
a development dependency: the committed ``.mo`` is what runs). A test keeps the
committed ``.mo`` equal to a fresh compile, and every marked string translated.

    python -m bizagent.i18n_messages update    # add new marked strings to the .po files
    python -m bizagent.i18n_messages compile   # write the .mo files
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Where bizagent's own text lives (tests, migrations and the virtualenv excluded).
APP_DIRS = ("bizagent", "decisions", "ideas", "workflows", "goals")
TEMPLATE_DIRS = ("templates", *(f"{app}/templates" for app in APP_DIRS))
LOCALE_DIR = ROOT / "locale"
#: The languages with a catalogue (English is the source language: msgids are English).
CATALOGUE_LANGUAGES = ("ja",)

# Function name → positions of (context, singular, plural) among its arguments.
_KEYWORDS: dict[str, tuple[int | None, int, int | None]] = {
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "_": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}


@dataclass(frozen=True)
class Message:
    msgid: str
    plural: str = ""
    context: str = ""
    where: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.context, self.msgid)


def _calls(source: str, where: str) -> Iterator[Message]:
    """Marked strings in Python-like ``source``: a keyword, "(", then literal arguments."""
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)
    ]
    for i, token in enumerate(tokens[:-1]):
        if token.type != tokenize.NAME or token.string not in _KEYWORDS:
            continue
        if tokens[i - 1].string in (".", "def") if i else False:
            continue
        if tokens[i + 1].string != "(":
            continue
        args: list[str | None] = []
        current: str | None = ""
        for item in tokens[i + 2 :]:
            if item.type == tokenize.STRING and current is not None:
                try:
                    value = ast.literal_eval(item.string)
                except ValueError:  # an f-string: not a fixed message
                    value = None
                current = current + value if isinstance(value, str) else None
            elif item.string in (",", ")"):
                args.append(current or None)
                current = ""
                if item.string == ")":
                    break
            else:
                current = None  # not a literal: nothing to extract for this argument
                if item.string == "(":
                    break
        ctx, single, plural = _KEYWORDS[token.string]
        msgid = args[single] if len(args) > single else None
        if not msgid:
            continue
        yield Message(
            msgid=msgid,
            plural=(args[plural] or "") if plural is not None and len(args) > plural else "",
            context=(args[ctx] or "") if ctx is not None and len(args) > ctx else "",
            where=f"{where}:{token.start[0]}",
        )


def _python_files(root: Path) -> Iterable[Path]:
    for app in APP_DIRS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _template_files(root: Path) -> Iterable[Path]:
    for folder in TEMPLATE_DIRS:
        yield from sorted(p for p in (root / folder).rglob("*") if p.suffix in (".html", ".txt"))


def marked_messages(root: Path = ROOT) -> dict[tuple[str, str], Message]:
    """Every marked string of the apps' code and templates, by (context, msgid)."""
    from django.utils.translation.template import templatize

    found: dict[tuple[str, str], Message] = {}
    for path in _python_files(root):
        for message in _calls(path.read_text(encoding="utf-8"), str(path.relative_to(root))):
            found.setdefault(message.key, message)
    for path in _template_files(root):
        text = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        # templatize keeps each call on one line but not Python's indentation: one line
        # at a time, unindented.
        for number, line in enumerate(text.splitlines(), start=1):
            if "gettext(" not in line:
                continue
            for message in _calls(line.strip(), f"{path.relative_to(root)}:{number}"):
                found.setdefault(message.key, replace(message, where=message.where[:-2]))
    return found


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "django.po"


def catalogue_update(*, language: str, root: Path = ROOT) -> list[Message]:
    """Add an untranslated entry to the language's ``.po`` for each new marked string;
    the new messages (existing translations are kept as they are)."""
    import polib  # type: ignore[import-untyped]  # no stubs published

    path = po_path(language)
    catalogue = polib.pofile(str(path)) if path.exists() else polib.POFile()
    known = {(entry.msgctxt or "", entry.msgid) for entry in catalogue}
    added = []
    for key, message in sorted(marked_messages(root).items()):
        if key in known:
            continue
        entry = polib.POEntry(
            msgid=message.msgid,
            msgstr="",
            msgctxt=message.context or None,
            occurrences=[tuple(message.where.rsplit(":", 1))],
        )
        if message.plural:
            entry.msgid_plural = message.plural
            entry.msgstr_plural = {0: ""}
        catalogue.append(entry)
        added.append(message)
    path.parent.mkdir(parents=True, exist_ok=True)
    catalogue.save(str(path))
    return added


def catalogue_compile(*, language: str, target: Path | None = None) -> Path:
    """Compile the language's ``.po`` into ``.mo`` (next to it unless ``target``)."""
    import polib

    path = po_path(language)
    target = target or path.with_suffix(".mo")
    polib.pofile(str(path)).save_as_mofile(str(target))
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("update", "compile"):
        print("usage: python -m bizagent.i18n_messages update|compile", file=sys.stderr)
        return 2
    for language in CATALOGUE_LANGUAGES:
        if argv[0] == "update":
            added = catalogue_update(language=language)
            print(f"{language}: {len(added)} new message(s) to translate in {po_path(language)}")
        else:
            print(f"{language}: compiled {catalogue_compile(language=language)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
