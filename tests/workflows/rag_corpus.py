"""A small Japanese and English corpus for the document search tests."""

from __future__ import annotations

from workflows.models import Collection
from workflows.rag.ingest import collection_create, document_add

CORPUS: dict[str, str] = {
    "returns.md": (
        "返品ポリシー\n\n"
        "商品到着後30日以内であれば返品を受け付けます。返品の際は顧客番号をご連絡ください。\n\n"
        "返品の送料は当社が負担します。"
    ),
    "sales.txt": (
        "月次売上報告\n\n今月の売上は前年同月比で12%増加しました。主な要因は新規顧客の増加です。返品による減少は小さかった。"
    ),
    "support.md": (
        "顧客サポート窓口\n\n"
        "サポート窓口は平日9時から18時まで営業しています。The support desk answers in English too."
    ),
    "shipping.md": (
        "Shipping and returns\n\n"
        "Orders ship within two business days.\n\n"
        "Returns are accepted within 30 days of delivery; returns of opened software are not."
    ),
    "pricing.md": (
        "Pricing plans\n\nThe Pro plan costs 20 dollars per month. Customers may cancel any time."
    ),
}


def corpus_load(*, slug: str = "help", actor=None) -> Collection:
    """A collection holding the corpus, added in a fixed order."""
    collection = collection_create(slug=slug, name="Help centre", actor=actor)
    for source, text in CORPUS.items():
        document_add(collection=slug, source=source, text=text, actor=actor)
    return collection
