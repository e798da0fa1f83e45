"""Records: upload (streamed), list, metadata, download (streamed, byte ranges), new version."""

from __future__ import annotations

from functools import partial
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from api import examples
from api.deps import AuthorizedActor, PageDep, VaultDep
from api.headers import content_headers
from api.http import RAW_BODY, content_type, declared_length, header_safe
from api.openapi import responses
from api.ranges import Span, parse_range, resolve_suffix
from api.schemas import IdPath
from api.streaming import open_for_download, run_with_body, stream_chunks
from vault.domain import Category, RecordInfo
from vault.errors import RangeNotSatisfiable
from vault.paging import Page

router = APIRouter(tags=["records"])

#: the answer carries the Content-Type the record was stored with, whatever it is
_BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}


@router.post(
    "/subjects/{subject_id}/records",
    name="records.create",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=RAW_BODY,
    summary="Upload a new record",
    response_description="the record was stored, encrypted under the subject's key",
    responses=responses(
        400, 404, 408, 409, 410, 411, 413, 422, example=examples.RECORD_CREATED, status=201
    ),
)
async def create_record(
    request: Request,
    subject_id: IdPath,
    category: Category,
    actor: AuthorizedActor,
    vault: VaultDep,
    filename: Annotated[
        str | None,
        Query(max_length=255, description="accepted for clients' convenience, never stored"),
    ] = None,
) -> RecordInfo:
    """Stream the record's bytes as the body (``Content-Length`` required, no chunking).

    The ``Content-Type`` header is stored with the version and sent back on
    download. The record is kept at least until ``retain_until``. An empty body
    is refused (400); so is a body longer or shorter than its Content-Length.
    """
    del filename  # ADR 0002: a file name may name the patient; it is neither stored nor logged
    length = declared_length(request, vault.settings.limits.max_record_bytes)
    kind = content_type(request)

    def put(body: BinaryIO) -> RecordInfo:
        return vault.put_record(
            subject_id, category, body, content_type=kind, size=length, actor=actor
        )

    return await run_with_body(request, length, put)


@router.put(
    "/records/{record_id}/content",
    name="records.update",
    openapi_extra=RAW_BODY,
    summary="Upload a new version of a record",
    response_description="the new version; older versions are kept",
    responses=responses(400, 404, 408, 409, 410, 411, 413, 422, example=examples.RECORD),
)
async def update_record(
    request: Request, record_id: IdPath, actor: AuthorizedActor, vault: VaultDep
) -> RecordInfo:
    """Rectification: the body becomes version + 1 (same rules as an upload).

    Every version is kept under the record's retention, which restarts now.
    """
    length = declared_length(request, vault.settings.limits.max_record_bytes)
    kind = content_type(request)

    def update(body: BinaryIO) -> RecordInfo:
        return vault.update_record(record_id, body, content_type=kind, size=length, actor=actor)

    return await run_with_body(request, length, update)


@router.get(
    "/subjects/{subject_id}/records",
    name="records.list",
    summary="List a subject's records",
    responses=responses(400, 404, 422, example=examples.RECORDS),
)
def list_records(
    subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep, page: PageDep
) -> Page[RecordInfo]:
    """Metadata of the subject's live records (not processing: retention unchanged),
    oldest first, a page at a time: follow ``next``."""
    return vault.records_page(subject_id, limit=page.limit, cursor=page.cursor, actor=actor)


@router.get(
    "/records/{record_id}",
    name="records.get",
    summary="Read a record's metadata",
    responses=responses(404, 422, example=examples.RECORD),
)
def get_record(record_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> RecordInfo:
    """The record, its current version and every earlier one (sizes, types, dates)."""
    return vault.record_info(record_id, actor=actor)


@router.get(
    "/records/{record_id}/content",
    name="records.content",
    response_class=StreamingResponse,
    summary="Download a record's content",
    responses={
        200: {"content": _BINARY, "description": "the whole record"},
        206: {"content": _BINARY, "description": "one byte range (Content-Range)"},
        **responses(404, 410, 416, 422),
    },
)
async def read_content(
    request: Request,
    record_id: IdPath,
    actor: AuthorizedActor,
    vault: VaultDep,
    version: Annotated[int | None, Query(ge=1, le=2**31)] = None,
) -> Response:
    """The decrypted bytes, streamed (the latest version unless ``version`` is given).

    ``Range: bytes=start-end`` (one range) answers 206 with those bytes only; a
    range past the end answers 416. The answer is an attachment named after the
    record id, with the stored Content-Type. Reading content is processing:
    the record's retention restarts.
    """
    spec = parse_range(request.headers.get("range"))
    byte_range: tuple[int, int] | None = None
    if isinstance(spec, Span):
        byte_range = (spec.start, spec.stop)
    elif spec is not None:
        # a suffix needs the size first; a malformed range needs it for Content-Range
        info = await run_in_threadpool(vault.record_info, record_id, actor=actor)
        version = version or info.version
        size = next((v.size for v in info.versions if v.version == version), info.size)
        byte_range = resolve_suffix(spec, size)
        if byte_range is None:
            raise RangeNotSatisfiable("the byte range cannot be satisfied", size=size)
    opened = partial(vault.open_record, record_id, version, byte_range, actor=actor)
    meta, content = await run_in_threadpool(open_for_download, opened)
    media_type = header_safe(meta.content_type)
    headers = {
        "Content-Length": str(meta.length),
        "ETag": f'"{meta.etag}"',
        "Accept-Ranges": "bytes",
        "X-Record-Version": str(meta.version),
        **content_headers(record_id, media_type),
    }
    code = status.HTTP_200_OK
    if byte_range is not None:
        code = status.HTTP_206_PARTIAL_CONTENT
        headers["Content-Range"] = f"bytes {meta.start}-{meta.stop - 1}/{meta.size}"
    if isinstance(content, bytes):  # a small record, read whole and verified
        return Response(content, status_code=code, headers=headers, media_type=media_type)
    return StreamingResponse(
        stream_chunks(content),
        status_code=code,
        headers=headers,
        media_type=media_type,
    )
