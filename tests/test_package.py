"""Packaging: the wheel carries the data folders, and an installed copy finds them from anywhere."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    return next(out.glob("llmkg-*.whl"))


def test_wheel_ships_ontology_shapes_triples_and_queries(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("llmkg/_data/ontology/llmkg.ttl", "llmkg/_data/shapes/core.ttl", "llmkg/cli.py"):
        assert required in names
    data_ttl = {n for n in names if n.startswith("llmkg/_data/triples/") and n.endswith(".ttl")}
    repo_ttl = {"llmkg/_data/" + p.relative_to(REPO).as_posix() for p in (REPO / "triples").rglob("*.ttl")}
    assert data_ttl == repo_ttl


def test_installed_package_finds_its_data_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "from llmkg.config import data_root; r = data_root(); print(r); assert (r / 'ontology/llmkg.ttl').is_file()"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(site / "llmkg" / "_data")


def test_wheel_ships_the_page_templates_scripts_and_self_description(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    package = REPO / "server" / "llmkg"
    files = [p for folder in ("pages/templates", "pages/static") for p in (package / folder).iterdir()]
    files.append(package / "kg" / "dataset.ttl")
    shipped = {p.relative_to(package.parent).as_posix() for p in files}
    assert shipped and shipped <= names, sorted(shipped - names)
