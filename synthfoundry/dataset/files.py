"""The publish root as one folder: local paths and object-store URLs (`s3://bucket/prefix`, any fsspec URL) read and
written the same way, by the store, the report and the export flow."""

from __future__ import annotations

import json
import os
import uuid

import polars as pl

from synthfoundry.dataset.errors import StoreUnreachable
from synthfoundry.dataset.storage import StorageOptions
from synthfoundry.redaction import redact


class Folder:
    """An fsspec-backed folder. `url` is what the user gave (shown in messages and cards); `path(...)` is a place
    under it in the form its filesystem, polars and LanceDB all take; `storage` reaches an S3 URL (unused on a
    local disk)."""

    def __init__(self, root, storage: StorageOptions | None = None) -> None:
        import fsspec

        self.url = str(root).rstrip("/")
        self.local = "://" not in self.url or self.url.startswith("file://")
        self.storage = None if self.local else storage or StorageOptions()
        options = self.storage.fsspec() if self.storage and self.url.startswith(("s3://", "s3a://")) else {}
        try:
            # skip_instance_cache: fsspec reuses a filesystem made with the same arguments, and with it the credentials
            # it found then (another run's, or variables since changed); a store reaches with its own options
            self.fs, base = fsspec.core.url_to_fs(self.url, use_listings_cache=False, skip_instance_cache=True,
                                                  **options)
        except (ValueError, ImportError) as error:  # an unknown protocol, or its package missing
            raise StoreUnreachable(f"{self.url}: not a place that can be reached ({error}): give a folder or an "
                                   "object-store URL such as s3://bucket/prefix") from None
        self.base = base if self.local else self.fs.unstrip_protocol(base)

    def check_writable(self) -> None:
        """Write and remove a probe, or raise StoreUnreachable: a local folder is created if missing, a bucket must
        exist already (a probe never creates buckets)."""
        probe = self.path(f".probe-{uuid.uuid4().hex}")
        try:
            if self.local:
                self.fs.makedirs(self.base, exist_ok=True)
            self.fs.pipe_file(probe, b"ok")  # not write(): its makedirs would create a missing bucket
            self.remove(probe)
        except Exception as error:  # noqa: BLE001 - any back-end failure means nothing can be published here
            raise self.unreachable(error, "write to") from None

    def unreachable(self, error: Exception, doing: str = "reach") -> StoreUnreachable:
        """A back-end failure as one error naming the place, the bucket and endpoint, and what to set (keys masked)."""
        reason = redact(f"{type(error).__name__}: {error}", self.storage.secrets() if self.storage else [])
        if self.local:
            return StoreUnreachable(f"{self.url}: cannot {doing.removesuffix(' to')} there ({reason}): choose a "
                                    "folder you can write to")
        bucket = self.url.split("://", 1)[1].split("/", 1)[0]
        endpoint = self.storage.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "the provider's default endpoint"
        return StoreUnreachable(
            f"{self.url}: cannot {doing} bucket {bucket!r} at {endpoint} ({reason}): create the bucket, or set "
            "publish.storage_options (endpoint_url, key, secret; --storage-option KEY=VALUE on the CLI) or "
            "AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")

    def path(self, *parts: str) -> str:
        return "/".join([self.base, *parts])

    def exists(self, path: str) -> bool:
        return self.fs.exists(path)

    def glob(self, pattern: str) -> list[str]:
        return self.fs.glob(pattern)

    def read_json(self, path: str) -> dict:
        return json.loads(self.fs.cat_file(path))

    def read_json_if_any(self, path: str) -> dict | None:
        return self.read_json(path) if self.fs.exists(path) else None

    def write(self, path: str, data: bytes) -> None:
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(path, data)

    def write_json(self, path: str, record: dict) -> None:
        self.write(path, json.dumps(record, indent=2, default=str).encode())

    def write_parquet(self, path: str, frame: pl.DataFrame) -> None:
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(path, "wb") as handle:
            frame.write_parquet(handle)

    def upload(self, local_file: str, path: str) -> None:
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self.fs.put_file(local_file, path)

    def remove(self, path: str) -> None:
        self.fs.rm(path, recursive=True)

    def create(self, path: str, data: bytes) -> bool:
        """Write a whole file only if none exists, atomically (a hard link on a local disk, a conditional put on an
        object store); False if it does."""
        if not self.local:
            return conditional_put(self.fs, path, data) is not None
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        return True


def conditional_put(fs, path: str, data: bytes, etag: str | None = None) -> str | None:
    """S3 put that succeeds only if the key is absent (or, with `etag`, still that object); its new ETag or None."""
    bucket, key, _ = fs.split_path(path)
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        return fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data, **condition)["ETag"]
    except OSError as error:  # s3fs wraps botocore's ClientError
        if getattr(error.__cause__, "response", {}).get("Error", {}).get("Code") == "PreconditionFailed":
            return None
        raise
