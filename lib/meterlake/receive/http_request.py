"""Reading an HTTP request for the service: the body under a size limit, the file part of a
multipart body, and the query parameters a route does not take. No landing here."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import PurePosixPath, PureWindowsPath

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from meterlake.sources.dropzone.door import RejectedBodyError

UPLOAD_FIELD = "file_upload"


def _too_large(limit_bytes: int) -> HTTPException:
    return HTTPException(413, f"request body larger than the limit of {limit_bytes} bytes")


async def read_limited_body(request: Request, limit_bytes: int) -> bytes:
    """The whole body, refused with 413 as soon as it exceeds `limit_bytes`: a declared
    Content-Length over the limit before reading anything, a streamed body at the chunk that
    crosses it. At most `limit_bytes` plus one chunk are ever held."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit_bytes:
        raise _too_large(limit_bytes)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            raise _too_large(limit_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _base_name(filename: str | None) -> str | None:
    """The file name a client gave, without any directory part it may carry."""
    if not filename:
        return None
    return PureWindowsPath(PurePosixPath(filename).name).name or None


async def uploaded_payload(headers: Headers, body: bytes) -> tuple[bytes, str | None]:
    """The content and file name of the `file_upload` part of a multipart body."""

    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(
            headers, replay(), max_files=1, max_fields=16, max_part_size=len(body) + 1
        ).parse()
    except MultiPartException as error:
        raise RejectedBodyError(f"malformed multipart body: {error.message}") from None
    try:
        part = form.get(UPLOAD_FIELD)
        if isinstance(part, UploadFile):
            return await part.read(), _base_name(part.filename)
        if isinstance(part, str):
            return part.encode("utf-8"), None
        raise RejectedBodyError(f"multipart body without a '{UPLOAD_FIELD}' file field")
    finally:
        await form.close()


async def check_query_parameters(request: Request) -> None:
    """422 for a query parameter the route does not take (a typo such as `?star=` would
    otherwise be ignored and answer with the whole table) or one given twice (FastAPI would
    silently keep the last). Async: no threadpool hop."""
    route = request.scope.get("route")
    known = {param.alias for param in route.dependant.query_params} if route else set()
    given = [name for name, _value in request.query_params.multi_items()]
    unknown = sorted(set(given) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise HTTPException(422, f"unknown query parameters {unknown}; this route takes: {takes}")
    repeated = sorted({name for name in given if given.count(name) > 1})
    if repeated:
        raise HTTPException(422, f"query parameters given more than once: {repeated}")


async def validation_message(_request: Request, error: Exception) -> JSONResponse:
    """422 with one readable sentence, like every other error of this API, instead of
    FastAPI's list of error objects."""
    assert isinstance(error, RequestValidationError)
    parts = []
    for problem in error.errors():
        # ("query", "points") -> "points": the name is what the caller knows.
        where = ".".join(str(part) for part in problem["loc"][1:]) or str(problem["loc"][0])
        parts.append(f"{where}: {problem['msg']}")
    return JSONResponse({"detail": "; ".join(parts)}, status_code=422)
