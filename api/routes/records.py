"""Records: upload (streamed), list, metadata, download (streamed, byte ranges), new version."""

from __future__ import annotations

from typing import Annotated, BinaryIO, cast

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import AuthorizedActor, PageDep, VaultDep
from api.headers import content_headers
from api.http import RAW_BODY, content_type, declared_length, header_safe
from api.ranges import Span, parse_range, resolve_suffix
from api.schemas import IdPath
from api.streaming import BodyReader, run_with_body, stream_chunks
from vault.domain import Category, RecordInfo
from vault.errors import RangeNotSatisfiable
from vault.paging import Page

router = APIRouter(tags=["records"])

_BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}


@router.post(
    "/subjects/{subject_id}/records",
    name="records.create",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=RAW_BODY,
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
    del filename  # ADR 0002: a file name may name the patient; it is neither stored nor logged
    length = declared_length(request, vault.settings.limits.max_record_bytes)
    kind = content_type(request)

    def put(body: BodyReader) -> RecordInfo:
        return vault.put_record(
            subject_id, category, cast(BinaryIO, body), content_type=kind, size=length, actor=actor
        )

    return await run_with_body(request, length, put)


@router.put("/records/{record_id}/content", name="records.update", openapi_extra=RAW_BODY)
async def update_record(
    request: Request, record_id: IdPath, actor: AuthorizedActor, vault: VaultDep
) -> RecordInfo:
    length = declared_length(request, vault.settings.limits.max_record_bytes)
    kind = content_type(request)

    def update(body: BodyReader) -> RecordInfo:
        return vault.update_record(
            record_id, cast(BinaryIO, body), content_type=kind, size=length, actor=actor
        )

    return await run_with_body(request, length, update)


@router.get("/subjects/{subject_id}/records", name="records.list")
def list_records(
    subject_id: IdPath, actor: AuthorizedActor, vault: VaultDep, page: PageDep
) -> Page[RecordInfo]:
    return vault.records_page(subject_id, limit=page.limit, cursor=page.cursor, actor=actor)


@router.get("/records/{record_id}", name="records.get")
def get_record(record_id: IdPath, actor: AuthorizedActor, vault: VaultDep) -> RecordInfo:
    return vault.record_info(record_id, actor=actor)


@router.get(
    "/records/{record_id}/content",
    name="records.content",
    response_class=StreamingResponse,
    responses={
        200: {"content": _BINARY, "description": "the whole record"},
        206: {"content": _BINARY, "description": "one byte range (Content-Range)"},
        416: {"description": "range not satisfiable (Content-Range: bytes */size)"},
    },
)
async def read_content(
    request: Request,
    record_id: IdPath,
    actor: AuthorizedActor,
    vault: VaultDep,
    version: Annotated[int | None, Query(ge=1, le=2**31)] = None,
) -> StreamingResponse:
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
    reader = await run_in_threadpool(vault.open_record, record_id, version, byte_range, actor=actor)
    meta = reader.meta
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
    return StreamingResponse(
        stream_chunks(reader),
        status_code=code,
        headers=headers,
        media_type=media_type,
    )
