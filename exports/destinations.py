"""Where exports go: a local directory or an S3 prefix, both as a pyarrow filesystem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from pyarrow import fs


@dataclass(frozen=True)
class Destination:
    filesystem: fs.FileSystem
    root: str  # a path inside `filesystem`, without a trailing slash
    local: bool

    def path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))


class DestinationError(ValueError):
    pass


def destination_normalise(to: str) -> str:
    """The destination as watermarks key it: "s3://bucket/prefix" or an absolute path."""
    if to.startswith("s3://"):
        parts = urlsplit(to)
        if not parts.netloc:
            raise DestinationError(f"no bucket in {to!r}")
        return f"s3://{parts.netloc}/{parts.path.strip('/')}".rstrip("/")
    return str(Path(to).expanduser().resolve())


def destination_open(to: str) -> Destination:
    normalised = destination_normalise(to)
    if normalised.startswith("s3://"):
        return Destination(_s3(), normalised.removeprefix("s3://"), local=False)
    Path(normalised).mkdir(parents=True, exist_ok=True)
    return Destination(fs.LocalFileSystem(), normalised, local=True)


def _s3() -> fs.S3FileSystem:
    """S3, or any S3-compatible store at EXPORTS_S3_ENDPOINT_URL; without keys in the
    settings, AWS's usual credential chain (environment, profile, instance role)."""
    endpoint = (
        urlsplit(settings.EXPORTS_S3_ENDPOINT_URL) if settings.EXPORTS_S3_ENDPOINT_URL else None
    )
    keys = {}
    if settings.EXPORTS_S3_ACCESS_KEY_ID:
        keys = {
            "access_key": settings.EXPORTS_S3_ACCESS_KEY_ID,
            "secret_key": settings.EXPORTS_S3_SECRET_ACCESS_KEY,
        }
    return fs.S3FileSystem(
        region=settings.EXPORTS_S3_REGION,
        endpoint_override=endpoint.netloc if endpoint else None,
        scheme=endpoint.scheme if endpoint else "https",
        **keys,
    )
