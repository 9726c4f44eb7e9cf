"""``GET /blocks`` and ``GET /blocks/{slug}``: the block catalogue."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from ninja import Query, Router

from workflows.api.auth import permission_require
from workflows.api.pagination import LIMIT_DEFAULT, LIMIT_MAX, page_sequence
from workflows.api.schemas import BlockDetailOut, BlockPage
from workflows.blocks import Block, block_get, blocks_all

router = Router(tags=["blocks"])


@router.get("/blocks", response=BlockPage, summary="List the blocks")
def blocks_list(
    request: HttpRequest,
    category: str | None = None,
    search: str | None = Query(None, description="In the slug, name or description."),
    cursor: str | None = None,
    limit: int = Query(LIMIT_DEFAULT, ge=1, le=LIMIT_MAX),
) -> dict:
    permission_require(request, "workflows.view_workflow")
    blocks = list(blocks_all().values())
    if category:
        blocks = [block for block in blocks if block.category == category]
    if search:
        needle = search.casefold()
        blocks = [
            block
            for block in blocks
            if needle in f"{block.slug}\n{block.name}\n{block.description}".casefold()
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
