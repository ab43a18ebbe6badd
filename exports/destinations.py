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
    """The destination as watermarks key it: "s3://bucket/prefix" or an absolute path.
    An S3 destination must lie under one of EXPORTS_S3_PREFIXES."""
    if to.startswith("s3://"):
        normalised = _s3_normalise(to)
        _s3_check_allowed(normalised)
        return normalised
    return str(Path(to).expanduser().resolve())


def _s3_normalise(url: str) -> str:
    parts = urlsplit(url)
    if not parts.netloc:
        raise DestinationError(f"no bucket in {url!r}")
    return f"s3://{parts.netloc}/{parts.path.strip('/')}".rstrip("/")


def _s3_check_allowed(normalised: str) -> None:
    """Exports carry travellers' conversations: they go only where the operator said, never
    to any bucket the server's credentials happen to reach."""
    allowed = [_s3_normalise(prefix) for prefix in settings.EXPORTS_S3_PREFIXES]
    if not any(normalised == prefix or normalised.startswith(prefix + "/") for prefix in allowed):
        where = ", ".join(allowed) if allowed else "none is configured"
        raise DestinationError(
            f"{normalised} is not under an S3 prefix allowed for exports "
            f"(EXPORTS_S3_PREFIXES: {where})"
        )


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
