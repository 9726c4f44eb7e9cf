"""``GET /blocks`` and ``GET /blocks/{slug}``: the block catalogue."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from ninja import Query, Router

from workflows.api.auth import permission_require
from workflows.api.pagination import LIMIT_DEFAULT, LIMIT_MAX, page_sequence
from workflows.api.schemas import BlockDetailOut, BlockPage
from workflows.blocks import Block, block_get, blocks_all
from workflows.docs import block_search_text

router = Router(tags=["blocks"])


@router.get("/blocks", response=BlockPage, summary="List the blocks")
def blocks_list(
    request: HttpRequest,
    category: str | None = None,
    search: str | None = Query(
        None,
        description=(
            "Words that must all appear (any order, case-blind) in the slug, name, "
            "description or the catalogue's English and Japanese lines."
        ),
    ),
    cursor: str | None = None,
    limit: int = Query(LIMIT_DEFAULT, ge=1, le=LIMIT_MAX),
) -> dict:
    permission_require(request, "workflows.view_workflow")
    blocks = list(blocks_all().values())
    if category:
        blocks = [block for block in blocks if block.category == category]
    words = (search or "").casefold().split()
    if words:
        # Every word, not the phrase: a model searching "http header" means both.
        blocks = [
            block for block in blocks if all(word in block_search_text(block) for word in words)
        ]
    page, next_cursor = page_sequence(blocks, key=_slug, cursor=cursor, limit=limit)
    return {"data": [block.describe() for block in page], "next_cursor": next_cursor}


@router.get("/blocks/{slug}", response=BlockDetailOut, summary="One block, with its schemas")
def blocks_detail(request: HttpRequest, slug: str) -> dict:
    permission_require(request, "workflows.view_workflow")
    block = block_get(slug)
    if block is None:
        raise Http404(f"no block {slug!r}")
    return block.describe()


def _slug(block: Block) -> str:
    return block.slug
