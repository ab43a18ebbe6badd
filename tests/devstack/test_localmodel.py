"""The local model's registry, assembly and configuration, on small fake parts: no model, no
xllamacpp. Serving the real thing: test_local_model.py (`pytest -m local_model`)."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest
from django.conf import settings
from pytest_django.fixtures import Settings as SettingsWrapper

from devstack.localmodel import (
    MODELS,
    RUNTIME_REQUIREMENT,
    LocalModel,
    LocalModelError,
    Part,
    endpoint_address,
    local_model_assemble,
    local_model_for_name,
    local_model_parts,
    main,
)

CHUNKS = (b"GGUF header ", b"tensor data ", b"the end")


def fake_model(parts: tuple[bytes, ...] = CHUNKS, *, sha256: str | None = None) -> LocalModel:
    joined = b"".join(parts)
    return LocalModel(
        name="fake",
        description="a fake model",
        parts=tuple(Part(f"fake-part{n}==1.0", f"fake_part{n}", "data.bin") for n in range(3)),
        size=len(joined),
        sha256=sha256 or hashlib.sha256(joined).hexdigest(),
    )


@pytest.fixture
def part_files(tmp_path: Path) -> list[Path]:
    paths = []
    for n, chunk in enumerate(CHUNKS):
        path = tmp_path / "parts" / f"part{n:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(chunk)
        paths.append(path)
    return paths


def test_it_joins_the_parts_in_order_and_stamps_the_verified_file(
    tmp_path: Path, part_files: list[Path]
) -> None:
    target = local_model_assemble(model=fake_model(), parts=part_files, target_dir=tmp_path)
    assert target == tmp_path / "fake.gguf"
    assert target.read_bytes() == b"".join(CHUNKS)
    assert (tmp_path / "fake.gguf.sha256").read_text().strip() == fake_model().sha256


def test_a_sha256_mismatch_is_refused_and_leaves_nothing_to_serve(
    tmp_path: Path, part_files: list[Path]
) -> None:
    wrong = fake_model(sha256="0" * 64)
    with pytest.raises(LocalModelError, match="sha256 is .* not the pinned 0{64}; refusing"):
        local_model_assemble(model=wrong, parts=part_files, target_dir=tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_parts_of_the_wrong_total_size_are_refused_before_reading_them(
    tmp_path: Path, part_files: list[Path]
) -> None:
    part_files[1].write_bytes(b"truncated")
    with pytest.raises(LocalModelError, match="parts hold 28 bytes, not the pinned 31"):
        local_model_assemble(model=fake_model(), parts=part_files, target_dir=tmp_path)


def test_a_verified_file_is_reused_without_reading_the_parts(
    tmp_path: Path, part_files: list[Path]
) -> None:
    first = local_model_assemble(model=fake_model(), parts=part_files, target_dir=tmp_path)
    for path in part_files:
        path.unlink()
    assert local_model_assemble(model=fake_model(), parts=part_files, target_dir=tmp_path) == first


def test_a_file_whose_stamp_does_not_match_is_assembled_again(
    tmp_path: Path, part_files: list[Path]
) -> None:
    (tmp_path / "fake.gguf").write_bytes(b"x" * fake_model().size)  # e.g. an interrupted copy
    (tmp_path / "fake.gguf.sha256").write_text("f" * 64)
    target = local_model_assemble(model=fake_model(), parts=part_files, target_dir=tmp_path)
    assert target.read_bytes() == b"".join(CHUNKS)


def test_parts_are_found_inside_the_installed_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        package = tmp_path / "site" / f"fake_part{n}"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    paths = local_model_parts(model=fake_model())
    assert paths == [tmp_path / "site" / f"fake_part{n}" / "data.bin" for n in range(3)]


def test_missing_packages_are_named_with_their_pins() -> None:
    with pytest.raises(LocalModelError, match="`pip install fake-part0==1.0 fake-part1==1.0"):
        local_model_parts(model=fake_model())


def test_an_unknown_model_name_lists_the_choices() -> None:
    with pytest.raises(LocalModelError, match="choose one of: qwen2.5-1.5b, qwen2.5-0.5b, smol"):
        local_model_for_name(name="gpt-5")


def test_the_command_turns_an_unknown_model_into_a_one_line_exit(
    settings: SettingsWrapper,
) -> None:
    settings.LOCAL_MODEL = "gpt-5"
    with pytest.raises(SystemExit, match="LOCAL_MODEL='gpt-5' is not a known model"):
        main([])


def test_the_default_model_is_what_the_local_model_extra_installs() -> None:
    pyproject = tomllib.loads((settings.BASE_DIR / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"]["local-model"]
    default = MODELS["qwen2.5-1.5b"]  # settings.LOCAL_MODEL's default
    assert extra == [RUNTIME_REQUIREMENT, *default.requirements]


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5:58080/v1",
        "http://0.0.0.0:58080/v1",
        "https://127.0.0.1:58080/v1",
        "http://127.0.0.1/v1",
        "http://127.0.0.1:58080/api",
    ],
)
def test_it_serves_only_http_on_a_loopback_port_under_v1(url: str) -> None:
    with pytest.raises(LocalModelError):
        endpoint_address(url)


def test_the_default_endpoint_is_a_loopback_port() -> None:
    assert endpoint_address("http://127.0.0.1:58080/v1") == ("127.0.0.1", 58080)
