"""The load and isolation benchmark (benchmarks/load.py) keeps working: a short, small run of each.

Only that it runs and what it reports is checked here, never how fast: the figures come from full
runs by hand (README, "Reliability").
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from llmkg.kg.build import Dataset, write_store

from .conftest import REPO
from .server_support import RunningServer, running_server
from .sparql_support import make_store


def _load_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("load_benchmark", REPO / "benchmarks" / "load.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


load = _load_module()
pytestmark = pytest.mark.xdist_group("benchmarks")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("bench")
    write_store(Dataset(quads=list(make_store())), folder / "store")
    with running_server(folder / "store", log=folder / "serve.log", timeout_s=2.0) as running:
        yield running


def test_the_saved_query_mix_runs_without_errors(server: RunningServer, tmp_path: Path) -> None:
    options = ["--clients", "4", "--duration", "1.5", "--cache", "both", "--json", str(tmp_path / "mix.json")]
    report = load.main(["mix", "--url", server.base, *options])
    assert report["queries_in_mix"] > 10
    for mode in ("cold", "warm"):
        assert report[mode]["requests"] > 0 and report[mode]["errors"] == {}, report[mode]
        assert report[mode]["p50_ms"] <= report[mode]["p99_ms"]
    assert report["worker_restarts"] == 0 and report["health_after"] == "ok"
    assert (tmp_path / "mix.json").read_text().startswith("{")


def test_isolation_stops_the_runaways_and_answers_everyone_else(server: RunningServer) -> None:
    report = load.main(["isolation", "--url", server.base, "--clients", "2", "--runaways", "2", "--duration", "3"])
    assert report["alone"]["errors"] == {} and report["with_runaways"]["errors"] == {}
    outcomes = report["runaways_ended"]["outcomes"]  # on this tiny store the sorting one may finish
    assert outcomes.get("503 Query timeout", 0) >= 1 and set(outcomes) <= {"200", "503 Query timeout"}, outcomes
    assert report["worker_restarts"] >= 1 and report["health_after"] == "ok"


def test_held_half_open_sockets_leave_everyone_else_served(server: RunningServer) -> None:
    report = load.main(["slow-sockets", "--url", server.base, "--clients", "2", "--sockets", "50", "--duration", "2"])
    assert report["alone"]["errors"] == {} and report["while_held"]["errors"] == {}, report
    assert sum(report["sockets_ended"].values()) == 50 and report["health_after"] == "ok"


def test_only_loopback_servers_are_driven() -> None:
    with pytest.raises(SystemExit, match="loopback"):
        load.main(["mix", "--url", "http://192.0.2.1:8000", "--duration", "1"])
