"""How to reach an S3-compatible object store (AWS, MinIO, R2, ...) without environment variables:
`publish.storage_options` in the run config, `--storage-option KEY=VALUE` on the CLI; what is left unset still comes
from the standard AWS variables. The one place that translates them for s3fs (fsspec) and for object_store (LanceDB,
polars). The keys are SecretStr: a manifest, a card or a Prefect parameter shows `**********`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

MASKED = "**********"  # how pydantic dumps a SecretStr


class StorageOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = Field(default=None, description="the store's endpoint, e.g. http://127.0.0.1:9000")
    region: str | None = Field(default=None, description="e.g. us-east-1 (R2: auto)")
    key: SecretStr | None = Field(default=None, description="access key id")
    secret: SecretStr | None = Field(default=None, description="secret access key")
    token: SecretStr | None = Field(default=None, description="session token, for temporary credentials")
    anon: bool = Field(default=False, description="unsigned requests, for a public bucket")

    @field_validator("key", "secret", "token", mode="before")
    @classmethod
    def _masked_is_unset(cls, value: object) -> object:
        """A config dumped for a child run (a backfill shard) carries its keys masked: there they come from the
        worker's AWS_* variables instead of being sent as the literal mask."""
        return None if value == MASKED else value

    @classmethod
    def parse(cls, pairs: list[str]) -> StorageOptions:
        """From the CLI's repeated `KEY=VALUE`."""
        from synthfoundry.errors import UserError

        malformed = [pair for pair in pairs if "=" not in pair]
        if malformed:
            raise UserError(f"--storage-option {malformed[0]!r} is not KEY=VALUE (keys: {', '.join(cls.model_fields)})")
        try:
            return cls.model_validate(dict(pair.split("=", 1) for pair in pairs))
        except ValueError as error:
            raise UserError(f"--storage-option: {error}") from None

    def fsspec(self) -> dict:
        """Keyword arguments for s3fs.S3FileSystem."""
        options = {"key": _reveal(self.key), "secret": _reveal(self.secret), "token": _reveal(self.token),
                   "endpoint_url": self.endpoint_url, "anon": self.anon or None,
                   "client_kwargs": {"region_name": self.region} if self.region else None}
        return {name: value for name, value in options.items() if value is not None}

    def object_store(self) -> dict[str, str]:
        """`storage_options` for LanceDB and polars (the object_store crate's names)."""
        options = {
            "aws_endpoint": self.endpoint_url, "aws_region": self.region, "aws_access_key_id": _reveal(self.key),
            "aws_secret_access_key": _reveal(self.secret), "aws_session_token": _reveal(self.token),
            "aws_skip_signature": "true" if self.anon else None,
            "allow_http": "true" if (self.endpoint_url or "").startswith("http://") else None,
        }
        return {name: value for name, value in options.items() if value is not None}

    def secrets(self) -> list[str]:
        """The values a log line must never show."""
        return [s.get_secret_value() for s in (self.key, self.secret, self.token) if s is not None]


def _reveal(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
