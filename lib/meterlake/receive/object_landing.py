"""The landing zone on S3-compatible object storage: the `LandingStore` of an `s3a://` URL.

S3 has no rename, so what a rename gives on a filesystem comes from conditional writes: every
object is created with `If-None-Match: *`, which the server refuses (412) when the key exists.
Nothing is ever overwritten, and the metadata object, written last, is what makes a landing
visible. Each data object carries its sha256 as user metadata (`x-amz-meta-sha256`): a second
write to the same key (a retry completing an interrupted landing, or a racing one) checks that
the bytes there are the same and carries on, and other bytes are an error.

Objects above `multipart_threshold_bytes` go up in parts (an upload in progress is invisible;
a failed one is aborted), completed with If-None-Match too. Retries with backoff on 5xx,
throttling and dropped connections are botocore's standard mode (`boto_client`), with few
attempts by default so that a receiver answers within seconds when the store is down. Every
failure is an `ObjectStoreError` whose one line names the URL and the access key id.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from meterlake.core.config import ObjectStoreSettings
from meterlake.core.object_store import (
    Credentials,
    ObjectStoreError,
    ObjectUrl,
    boto_client,
    credentials_for,
    explain,
)

MULTIPART_THRESHOLD_BYTES = 16 << 20
PART_BYTES = 8 << 20
# Standard-mode backoff sleeps up to 1 s, then 2 s, between attempts: three attempts fail in
# under ~5 s when the store is down, so an HTTP client gets its 503 quickly and retries itself.
MAX_ATTEMPTS = 3
SHA256_METADATA = "sha256"  # sent as the header x-amz-meta-sha256
_CONFLICT_RETRIES = 5  # 409 ConditionalRequestConflict: another conditional write in flight
_READERS = 8


@dataclass(frozen=True)
class ObjectLanding:
    """Which object store the landing zone is on, and how it uploads there: `max_attempts`
    per request, and objects above `multipart_threshold_bytes` in parts of `part_bytes` (S3
    and SeaweedFS refuse parts under 5 MiB, but the last)."""

    settings: ObjectStoreSettings
    max_attempts: int = MAX_ATTEMPTS
    multipart_threshold_bytes: int = MULTIPART_THRESHOLD_BYTES
    part_bytes: int = PART_BYTES


_clients: dict[tuple[ObjectStoreSettings, Credentials | None, int], Any] = {}
_clients_lock = threading.Lock()


def _client(landing: ObjectLanding, credentials: Credentials | None) -> Any:
    """One client per store, identity and attempt count (clients are thread-safe; creating
    them is not)."""
    key = (landing.settings, credentials, landing.max_attempts)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = boto_client(landing.settings, credentials,
                                        max_attempts=landing.max_attempts)
        return _clients[key]


def _status(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _first_bytes(chunks: Iterable[bytes], limit: int) -> bytes | None:
    """All of `chunks` when they come to at most `limit` bytes, else None."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            return None
    return bytes(buffer)


def _digest(chunks: Iterable[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _parts(chunks: Iterable[bytes], part_bytes: int) -> Iterator[bytes]:
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= part_bytes:
            yield bytes(buffer[:part_bytes])
            del buffer[:part_bytes]
    if buffer:
        yield bytes(buffer)


def _upload_part(client: Any, url: ObjectUrl, upload_id: str, number: int, body: bytes) -> str:
    """Uploads part `number`; returns its ETag."""
    answer = client.upload_part(Bucket=url.bucket, Key=url.key, UploadId=upload_id,
                                PartNumber=number, Body=body)
    return str(answer["ETag"])


def _put_if_absent(client: Any, url: ObjectUrl, body: bytes, metadata: dict[str, str]) -> bool:
    """Creates the object unless its key exists: whether it was created."""
    for attempt in range(_CONFLICT_RETRIES):
        try:
            client.put_object(Bucket=url.bucket, Key=url.key, Body=body, IfNoneMatch="*",
                              Metadata=metadata)
            return True
        except ClientError as error:
            if _status(error) == 412:
                return False
            if _status(error) != 409 or attempt == _CONFLICT_RETRIES - 1:
                raise
            time.sleep(0.05 * 2 ** attempt)
    raise AssertionError("unreachable")


def _abort_quietly(client: Any, url: ObjectUrl, upload_id: str) -> None:
    """Aborts an upload; when even that fails (the store is down), its parts stay invisible
    until the bucket's lifecycle rule for incomplete uploads removes them."""
    with suppress(BotoCoreError, ClientError):
        client.abort_multipart_upload(Bucket=url.bucket, Key=url.key, UploadId=upload_id)


class S3LandingStore:
    """Landing on `s3a://bucket/prefix`; see the module docstring for the guarantees."""

    def __init__(self, landing: ObjectLanding | None) -> None:
        self._landing = landing

    @contextmanager
    def _request(self, location: str) -> Iterator[tuple[Any, ObjectLanding]]:
        """The client and tuning; a failed request inside becomes an ObjectStoreError naming
        `location` and the identity."""
        if self._landing is None:
            raise ObjectStoreError(f"{location}: no object store settings were given for this "
                                   "landing zone (pass the settings' object_store)")
        try:
            credentials = credentials_for(self._landing.settings)
        except ObjectStoreError as error:
            raise ObjectStoreError(f"{location}: {error}") from None
        try:
            yield _client(self._landing, credentials), self._landing
        except (BotoCoreError, ClientError) as error:
            raise ObjectStoreError(explain(error, location, credentials)) from error

    def join(self, root: str, *parts: str) -> str:
        return ObjectUrl.parse(str(root)).child(*parts).spark

    def write_once(self, path: str, chunks: Callable[[], Iterable[bytes]]) -> tuple[str, int]:
        """Writes the bytes unless `path` holds them already; (sha256, byte size). Raises
        ObjectStoreError when `path` holds other bytes, or the store fails."""
        url = ObjectUrl.parse(path)
        with self._request(path) as (client, landing):
            small = _first_bytes(chunks(), landing.multipart_threshold_bytes)
            if small is not None:
                sha256, size = hashlib.sha256(small).hexdigest(), len(small)
                created = _put_if_absent(client, url, small, {SHA256_METADATA: sha256})
            else:
                sha256, size = _digest(chunks())
                created = (self._existing_sha256(client, url) is None
                           and self._upload_in_parts(client, url, chunks, sha256, landing))
            if not created:
                existing = self._existing_sha256(client, url)
                if existing != sha256:
                    raise ObjectStoreError(f"{path}: already holds other bytes (sha256 "
                                           f"{existing}); a landed object is never overwritten")
        return sha256, size

    def _existing_sha256(self, client: Any, url: ObjectUrl) -> str | None:
        """The sha256 of the object at `url` (from its metadata, else by reading it); None when
        there is no object."""
        try:
            head = client.head_object(Bucket=url.bucket, Key=url.key)
        except ClientError as error:
            if _status(error) == 404:
                return None
            raise
        recorded = head.get("Metadata", {}).get(SHA256_METADATA)
        if recorded:
            return str(recorded)
        body = client.get_object(Bucket=url.bucket, Key=url.key)["Body"]
        return _digest(iter(lambda: body.read(1 << 20), b""))[0]

    def _upload_in_parts(self, client: Any, url: ObjectUrl,
                         chunks: Callable[[], Iterable[bytes]], sha256: str,
                         landing: ObjectLanding) -> bool:
        """A multipart upload completed with If-None-Match: whether it created the object.
        Aborted on any failure, including bytes that changed since they were hashed."""
        upload_id = client.create_multipart_upload(
            Bucket=url.bucket, Key=url.key, Metadata={SHA256_METADATA: sha256})["UploadId"]
        try:
            digest, parts = hashlib.sha256(), []
            for number, body in enumerate(_parts(chunks(), landing.part_bytes), start=1):
                digest.update(body)
                etag = _upload_part(client, url, upload_id, number, body)
                parts.append({"ETag": etag, "PartNumber": number})
            if digest.hexdigest() != sha256:
                raise ObjectStoreError(f"{url.spark}: the bytes changed while being uploaded")
            client.complete_multipart_upload(Bucket=url.bucket, Key=url.key, UploadId=upload_id,
                                             MultipartUpload={"Parts": parts}, IfNoneMatch="*")
        except ClientError as error:
            _abort_quietly(client, url, upload_id)
            if _status(error) == 412:
                return False
            raise
        except BaseException:
            _abort_quietly(client, url, upload_id)
            raise
        return True

    def create_once(self, path: str, content: bytes) -> bytes | None:
        """Creates `path` holding `content`: None, or when `path` existed, what it holds."""
        url = ObjectUrl.parse(path)
        with self._request(path) as (client, _):
            if _put_if_absent(client, url, content, {}):
                return None
            return bytes(client.get_object(Bucket=url.bucket, Key=url.key)["Body"].read())

    def exists(self, path: str) -> bool:
        url = ObjectUrl.parse(path)
        with self._request(path) as (client, _):
            try:
                client.head_object(Bucket=url.bucket, Key=url.key)
            except ClientError as error:
                if _status(error) == 404:
                    return False
                raise
        return True

    def read(self, path: str) -> bytes:
        url = ObjectUrl.parse(path)
        with self._request(path) as (client, _):
            return bytes(client.get_object(Bucket=url.bucket, Key=url.key)["Body"].read())

    def read_all(self, directory: str, suffix: str) -> list[bytes]:
        """The content of every object under `directory/` whose name ends in `suffix`
        (dot-prefixed names excluded), read a few at a time."""
        url = ObjectUrl.parse(directory)
        prefix = f"{url.key}/" if url.key else ""
        with self._request(directory) as (client, _):
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=url.bucket,
                                                                      Prefix=prefix)
            keys = [found["Key"] for page in pages for found in page.get("Contents", [])
                    if found["Key"].endswith(suffix)
                    and not found["Key"].rsplit("/", 1)[-1].startswith(".")]

            def read(key: str) -> bytes:
                return bytes(client.get_object(Bucket=url.bucket, Key=key)["Body"].read())

            with ThreadPoolExecutor(max_workers=_READERS) as pool:
                return list(pool.map(read, keys))
