"""The synthetic graph of the scale benchmark is llmkg data: same shapes, same preferred-value rule."""

from __future__ import annotations

import sys
from pathlib import Path

import pyoxigraph as ox
import pytest

from llmkg.kg import catalog, findings, provenance
from llmkg.kg.build import Dataset, memory_store
from llmkg.kg.validation import validate
from llmkg.namespaces import PREFERRED_GRAPH

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import synth  # benchmarks/ is a folder of scripts, not a package

pytestmark = pytest.mark.xdist_group("synth")


@pytest.fixture(scope="module")
def small() -> Dataset:
    return synth.dataset(2, start=3)


def test_synthetic_graph_passes_the_shapes(small: Dataset) -> None:
    problems = validate(small)
    assert problems == [], "\n".join(f"{p.severity} {p.shape} {p.focus}: {p.message}" for p in problems[:10])


def test_its_preferred_graph_is_the_one_the_build_computes(small: Dataset) -> None:
    mine = {q for q in small.quads if q.graph_name == ox.NamedNode(PREFERRED_GRAPH)}
    rest = [q for q in small.quads if q.graph_name != ox.NamedNode(PREFERRED_GRAPH)]
    assert mine == set(provenance.preferred_quads(rest))
    infos = provenance.graph_infos(rest)
    assert findings.conflicting_facts(provenance.statements_by_key(rest, infos), infos), (
        "the blogs disagree with the cards"
    )


def test_families_are_the_same_wherever_they_are_generated() -> None:
    alone = "".join(synth.lines(1, start=5))
    assert alone in "".join(synth.lines(6))


def test_size_is_close_to_the_request(tmp_path: Path) -> None:
    count = synth.write(tmp_path / "s.nq", 20_000)
    assert abs(count - 20_000) < synth.QUADS_PER_FAMILY
    assert sum(1 for _ in ox.parse(path=tmp_path / "s.nq", format=ox.RdfFormat.N_QUADS)) == count


def test_saved_query_parameters_find_synthetic_entities(small: Dataset) -> None:
    sys.path.insert(0, str(Path(synth.__file__).parent))
    import scale

    store = memory_store(synth.dataset(1))
    bound = {q.id: scale.synth_params(q) for q in catalog.saved_queries() if q.params}
    assert bound and any(
        str(v).startswith("https://w3id.org/llmkg/id/family/synth-") for p in bound.values() for v in p.values()
    )
    for query in catalog.saved_queries():
        if query.id in bound and query.params[0].type == "iri" and "/family/" in query.params[0].example:
            result = catalog.run(query, store, bound[query.id])
            assert not isinstance(result, ox.QueryBoolean), f"{query.id} is an ASK query"
            assert list(result), f"{query.id} finds nothing on synthetic data"
