"""The documentation the copilot searches: the block catalogue and the document set.

``block_catalogue_markdown`` writes the catalogue from the block registry (so it cannot
drift from the code; ``docs/blocks.md`` is its committed copy and a test keeps the two
equal). ``docs_collect`` gathers what the ``copilot-docs`` collection holds: the README
cut at its headings, one document per block, and one per shipped workflow document
(the examples and the copilot's own). Everything here is pure: reading files and the
registry, no database; ``workflows.services.docs`` writes the collection.

The users write Japanese and the code is documented in English, and a Japanese
question shares no index term with English text, so each block carries one Japanese
summary line, kept in ``BLOCK_SUMMARIES_JA`` (one table), and one English "use it to"
line in ``BLOCK_USES`` in the words a person asks with ("branch", "remember"), which
the descriptions, written about the mechanism, do not always use.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import workflows.blocks  # noqa: F401  (registers every block)
from workflows.blocks.base import Block, blocks_all

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE_PATH = ROOT / "docs" / "blocks.md"
#: The shipped workflow documents: the examples and the copilot's own system workflow.
WORKFLOW_DOCUMENT_GLOBS = ("workflows/examples/*.json", "workflows/copilot/*.json")

#: One Japanese line per block: what it does and the words a person would ask with.
#: A block missing here fails ``test_copilot_docs`` (a new block needs its line).
BLOCK_SUMMARIES_JA: dict[str, str] = {
    "agent": (
        "エージェント: 言語モデルがツールを呼びながら答えるループ。ツールは同じワークフローの"
        "他のステップで、`tools` にステップ名を並べて定義する（ツール用のステップは "
        "`tool_only` にし、引数は `input_schema` で定義する）。反復回数・ツール呼び出し回数・"
        "トークン数に上限を設定できる。"
    ),
    "condition": (
        "条件分岐: 値を比較し（等しい・含む・より大きい・存在する・正規表現）、"
        "結果により `true` か `false` のポートへ分岐する。"
    ),
    "http": (
        "HTTP リクエスト: 外部の API を呼び出す。メソッド、URL、ヘッダー（`headers`）、"
        "クエリ、JSON やフォームの本文を設定する。ヘッダーは `headers` に名前と値の"
        "オブジェクトで設定する。GET 以外は副作用あり。"
    ),
    "llm": (
        "言語モデル: 指示とプロンプトを送り、最終回答のテキストを返す（文章の生成・要約・翻訳）。"
    ),
    "llm-structured": (
        "構造化出力: JSON スキーマに合う回答を言語モデルに求め、合わなければ一度だけ修正させ、"
        "オブジェクトとして返す（分類・抽出・診断）。"
    ),
    "memory-buffer": (
        "会話メモリ: ユーザーとスレッドのキーで会話履歴を保存し（add）、最新のメッセージを"
        "取得し（get）、消去する（clear）。"
    ),
    "rag-query": (
        "文書検索: ドキュメントコレクションを全文検索（BM25、日本語は形態素解析）し、"
        "関連する箇所を返す。"
    ),
    "set-variables": (
        "変数の設定: 実行中の変数を設定し、後のステップで `{{ vars.名前 }}` として読む。"
        "テキスト・数値・真偽値・JSON に変換する。"
    ),
    "subflow": (
        "サブフロー: 公開済みの別のワークフローを入力を渡して実行し、その出力を返す（再利用）。"
    ),
    "switch": (
        "多分岐: 値を複数のケースと順に比べ、最初に一致したケースのポート（`case:<key>`）"
        "、どれにも一致しなければ `default` へ進む。"
    ),
}


#: One English line per block: what a person would want it for.
BLOCK_USES: dict[str, str] = {
    "agent": "Use it to let the model decide which tools to call and answer with them.",
    "condition": "Use it to branch on a condition: if / else with two ports.",
    "http": "Use it to call a web API or webhook, set headers, send JSON or a form.",
    "llm": "Use it to write, summarise or translate text.",
    "llm-structured": "Use it to classify, extract or diagnose into a fixed JSON shape.",
    "memory-buffer": "Use it to remember a conversation between messages (chat history).",
    "rag-query": "Use it to search documents (a knowledge base, an FAQ) for passages.",
    "set-variables": "Use it to name and convert values for later steps.",
    "subflow": "Use it to reuse another workflow as one step.",
    "switch": "Use it to branch on many values: one port per case.",
}


@dataclass(frozen=True)
class DocSource:
    """One document of the collection: where it comes from, its title and its text."""

    source: str
    title: str
    text: str


def product_blocks() -> dict[str, Block]:
    """The shipped blocks by slug (tests register doubles in the same registry)."""
    return {
        slug: block
        for slug, block in sorted(blocks_all().items())
        if type(block).__module__.startswith("workflows.blocks.")
    }


def block_search_text(block: Block) -> str:
    """What ``GET /blocks?search=`` looks in: slug, name, description and both of the
    block's lines here (so a Japanese word such as ヘッダー finds ``http``), casefolded."""
    return "\n".join(
        (
            block.slug,
            block.name,
            block.description,
            BLOCK_USES.get(block.slug, ""),
            BLOCK_SUMMARIES_JA.get(block.slug, ""),
        )
    ).casefold()


def _ports(block: Block) -> list[str]:
    # A sample case shows the shape of a switch's configured ports; blocks ignore
    # config keys they do not know.
    ports = list(block.ports({"cases": [{"key": "<key>"}]}))
    return [*ports, "error"]


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind:
        return str(kind)
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    if "anyOf" in schema or "oneOf" in schema:
        return "any of several shapes"
    return "any"


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _schema_brief(schema: dict[str, Any], *, heading: str) -> list[str]:
    """A schema as a table of its top-level properties (``(none)`` when it has none)."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not properties:
        kind = _type_of(schema) if schema else "any JSON"
        return [f"**{heading}**: {kind}.", ""]
    required = set(schema.get("required", []))
    lines = [f"**{heading}**:", "", "| key | type | required | what |", "|---|---|---|---|"]
    for key, spec in properties.items():
        spec = spec if isinstance(spec, dict) else {}
        what = spec.get("description", "")
        if "default" in spec:
            what = f"{what} Default {json.dumps(spec['default'], ensure_ascii=False)}.".strip()
        lines.append(
            f"| `{key}` | {_cell(_type_of(spec))} | {'yes' if key in required else 'no'} "
            f"| {_cell(what)} |"
        )
    lines.append("")
    return lines


def block_section(block: Block) -> str:
    """One block's catalogue section (Markdown), headed by its slug and name."""
    lines = [
        f"## `{block.slug}`: {block.name}",
        "",
        block.description,
        "",
        BLOCK_USES.get(block.slug, ""),
        "",
        BLOCK_SUMMARIES_JA.get(block.slug, ""),
        "",
        f"- Category: {block.category}",
        f"- Ports: {', '.join(f'`{port}`' for port in _ports(block))}",
        f"- Can be an agent's tool: {'yes' if block.can_be_tool else 'no'}",
        f"- Side effects: {'yes' if block.side_effects else 'no'}",
        "",
        *_schema_brief(block.config_schema, heading="Config"),
        *_schema_brief(block.input_schema, heading="Input (as a tool)"),
        *_schema_brief(block.output_schema, heading="Output"),
    ]
    return "\n".join(lines).rstrip() + "\n"


def block_catalogue_markdown() -> str:
    """The whole catalogue (what ``docs/blocks.md`` holds), generated from the registry."""
    header = (
        "# Block catalogue\n\n"
        "Generated from the block registry by `manage.py copilot_docs --write-catalogue`; "
        "do not edit by hand (a test fails when it is out of date). "
        "`GET /api/v1/blocks/{slug}` gives each block's full schemas.\n\n"
        "Every step also has the `error` port, taken when it fails with "
        "`on_error: error_branch`.\n"
    )
    sections = [block_section(block) for block in product_blocks().values()]
    return header + "\n" + "\n".join(sections)


_HEADING = re.compile(r"^(##|###) (.+)$", re.MULTILINE)


def readme_sections(text: str) -> list[DocSource]:
    """The README cut at its ``##`` and ``###`` headings, one document per section
    (a short section is easier to rank than the whole file)."""
    matches = list(_HEADING.finditer(text))
    documents: list[DocSource] = []
    seen: set[str] = set()
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.start() : end].strip()
        title = match.group(2).strip()
        slug = base = re.sub(r"[^\w]+", "-", title.casefold()).strip("-")
        # Two sections may share a title ("From the terminal"): sources stay unique.
        while slug in seen:
            slug = f"{base}-{len(seen)}"
        seen.add(slug)
        if body.count("\n") and body.split("\n", 1)[1].strip():
            documents.append(DocSource(source=f"README.md#{slug}", title=title, text=body))
    return documents


def workflow_document_text(document: dict[str, Any], *, path: str) -> str:
    """A workflow document told in prose: its description, steps (block, whether a tool,
    what each does) and edges; the file itself is named for copying (its JSON would
    bury the prose under template and schema words)."""
    lines = [f"# Workflow {document.get('name', '')} (`{document.get('key', '')}`)", ""]
    lines += [str(document.get("description", "")), "", f"Document: `{path}`.", "", "Steps:"]
    for step in document.get("steps", []):
        tool = " (tool only)" if step.get("tool_only") else ""
        what = step.get("description", "")
        lines.append(f"- `{step.get('name')}`: `{step.get('block')}` block{tool}. {what}".rstrip())
    lines += ["", "Edges:"]
    for edge in document.get("edges", []):
        lines.append(f"- `{edge.get('from')}` by `{edge.get('port', 'out')}` to `{edge.get('to')}`")
    return "\n".join(lines) + "\n"


def docs_collect(*, root: Path = ROOT) -> list[DocSource]:
    """Every document of the copilot's collection, in a fixed order, sources unique."""
    documents = readme_sections((root / "README.md").read_text(encoding="utf-8"))
    for block in product_blocks().values():
        documents.append(
            DocSource(
                source=f"docs/blocks.md#{block.slug}",
                title=f"Block {block.slug}: {block.name}",
                text=block_section(block),
            )
        )
    for pattern in WORKFLOW_DOCUMENT_GLOBS:
        for path in sorted(root.glob(pattern)):
            relative = path.relative_to(root).as_posix()
            document = json.loads(path.read_text(encoding="utf-8"))
            documents.append(
                DocSource(
                    source=relative,
                    title=f"Workflow {document.get('name', path.stem)}",
                    text=workflow_document_text(document, path=relative),
                )
            )
    return documents
