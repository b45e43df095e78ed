"""A realistic synthetic llmkg graph of any size, in the same ontology and passing the same shapes.

Each synthetic family is laid out like the shipped data: a curated identity graph (family,
variants, checkpoints, training stages), a curated sources graph (a first-party model card and a
third-party blog, as versioned source documents), and fact graphs as those sources state them
(model table, benchmark table, the blog's re-reported values, some of which conflict with the
card). ``graph/preferred`` is filled by the same rule the build applies (curated first, then
primary, then first-party), ``graph/default`` holds what the build puts there (graph/preferred, each
graph's own record, the ontology and the saved queries), and the vocabulary graphs (ontology,
shapes, saved queries) are the shipped ones, so every saved query and every shape applies unchanged.

About 3,000 quads per family (a third in graph/preferred, a third in graph/default): 100k quads is ~33
families, 10M ~3,300.

    python benchmarks/synth.py --triples 1000000 --out /tmp/synth-1m.nq
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox

from llmkg.kg.build import Dataset, load_dataset
from llmkg.kg.findings import findings_quads
from llmkg.kg.provenance import default_quads
from llmkg.namespaces import DEFAULT_GRAPH, GRAPH, ID, LLMKG, PREFERRED_GRAPH

RDF_TYPE, RDFS_LABEL = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", "http://www.w3.org/2000/01/rdf-schema#label"
PROV, DCT, XSD = "http://www.w3.org/ns/prov#", "http://purl.org/dc/terms/", "http://www.w3.org/2001/XMLSchema#"
BENCHMARKS, RESULTS_PER_CHECKPOINT, MODELS_PER_FAMILY, LABS = 200, 24, 4, 40
QUADS_PER_FAMILY = 3025
VOCABULARY = ("ontology/", "shapes/", "queries")
Quad = tuple[str, str, str, str]  # N-Triples terms: subject, predicate, object, graph


def iri(value: str) -> str:
    return f"<{value}>"


def lit(value: object, datatype: str | None = None) -> str:
    if datatype is None:
        return str(ox.Literal(str(value)))
    return str(
        ox.Literal(str(value).lower() if datatype == "boolean" else str(value), datatype=ox.NamedNode(XSD + datatype))
    )


def L(term: str) -> str:
    return iri(LLMKG + term)


def node(kind: str, slug: str) -> str:
    return iri(f"{ID}{kind}/{slug}")


def graph(path: str) -> str:
    return iri(GRAPH + path)


def common() -> Iterator[Quad]:
    """Organisations, benchmarks and metrics that every family shares (one curated graph)."""
    g = graph("synth/entities/common")
    yield from _graph_header(g, "CuratedGraph", "triples/synth/entities/common.ttl")
    for lab in range(LABS):
        yield from _typed(node("organization", f"synth-lab-{lab}"), "Organization", f"Synth Lab {lab}", g)
    for name, better, low, high in (("synth-accuracy", True, 0, 100), ("synth-error-rate", False, 0, 100)):
        metric = node("metric", name)
        yield from _typed(metric, "Metric", name.replace("-", " "), g)
        yield metric, L("higherIsBetter"), lit(better, "boolean"), g
        yield metric, L("unit"), lit("percent"), g
        yield metric, L("minValue"), lit(low, "decimal"), g
        yield metric, L("maxValue"), lit(high, "decimal"), g
    for k in range(BENCHMARKS):
        yield from _typed(node("benchmark", f"synth-bench-{k}"), "Benchmark", f"SynthBench {k}", g)


def family(i: int, rng: random.Random) -> Iterator[Quad]:
    """Every graph of one synthetic family; ``rng`` makes the values vary, seeded for repeatability."""
    slug, lab = f"synth-{i}", node("organization", f"synth-lab-{i % LABS}")
    ent, src = graph(f"synth/entities/{slug}"), graph(f"synth/sources/{slug}")
    card, bench, blog = (graph(f"synth/{slug}/{part}") for part in ("card/models", "card/benchmarks", "blog"))
    card_doc, blog_doc = node("source", f"{slug}-model-card-{i:07x}"), node("source", f"{slug}-blog")
    yield from _graph_header(ent, "CuratedGraph", f"triples/synth/entities/{slug}.ttl")
    yield from _typed(node("family", slug), "ModelFamily", f"Synth {i}", ent)
    yield node("family", slug), L("developer"), lab, ent
    yield from _sources(i, card_doc, blog_doc, lab, src)
    yield from _fact_header(card, card_doc, "Model table", f"triples/synth/{slug}/card/models.ttl")
    yield from _fact_header(bench, card_doc, "Benchmarks table", f"triples/synth/{slug}/card/benchmarks.ttl")
    yield from _fact_header(blog, blog_doc, "Launch post", f"triples/synth/{slug}/blog.ttl")
    for m in range(MODELS_PER_FAMILY):
        yield from _model(i, m, rng, lab, (ent, card, bench, blog))


def _model(i: int, m: int, rng: random.Random, lab: str, graphs: tuple[str, str, str, str]) -> Iterator[Quad]:
    ent, card, bench, blog = graphs
    name = f"synth-{i}-m{m}"
    model = node("model", name)
    yield from _typed(model, "Model", f"Synth {i} M{m}", ent)
    yield model, L("inFamily"), node("family", f"synth-{i}"), ent
    yield model, L("developer"), lab, ent
    total = rng.choice((1, 3, 8, 70, 405)) * 1_000_000_000
    moe = m == MODELS_PER_FAMILY - 1
    context = rng.choice((8192, 32768, 131072))
    yield model, L("architectureType"), L("MixtureOfExperts" if moe else "DenseTransformer"), card
    yield model, L("totalParameters"), lit(total * (8 if moe else 1), "integer"), card
    if moe:
        yield model, L("activeParameters"), lit(total, "integer"), card
        yield model, L("expertCount"), lit(16, "integer"), card
    yield model, L("contextLength"), lit(context, "integer"), card
    yield model, L("knowledgeCutoff"), lit(f"{2020 + i % 6}-{1 + m * 3:02d}", "gYearMonth"), card
    yield model, iri(DCT + "issued"), lit(f"{2021 + i % 5}-{1 + m:02d}-15", "date"), card
    yield model, iri(DCT + "license"), node("licence", f"synth-{i}-community"), card
    yield model, L("supportedLanguage"), iri("http://id.loc.gov/vocabulary/iso639-1/en"), card
    yield model, L("contextLength"), lit(context * (2 if m % 2 else 1), "integer"), blog  # some blogs disagree
    stage = node("stage", f"{name}--pre-training")
    yield from _typed(stage, "TrainingStage", f"Synth {i} M{m} pre-training", ent)
    yield stage, L("stageKind"), L("PreTraining"), ent
    yield stage, L("trainingOf"), model, ent
    yield stage, L("stageOrder"), lit(1, "integer"), ent
    yield stage, L("trainingTokens"), lit(rng.randrange(1, 40) * 10**12, "decimal"), card
    for tuned in (False, True):
        yield from _checkpoint(name, tuned, rng, lab, ent, bench)


def _checkpoint(name: str, tuned: bool, rng: random.Random, lab: str, ent: str, bench: str) -> Iterator[Quad]:
    suffix = "-instruct" if tuned else ""
    checkpoint = node("checkpoint", name + suffix)
    yield from _typed(checkpoint, "Checkpoint", f"{name}{suffix}", ent)
    yield checkpoint, L("checkpointOf"), node("model", name), ent
    yield checkpoint, L("tuning"), L("InstructionTuned" if tuned else "Pretrained"), ent
    yield checkpoint, L("huggingFaceRepository"), lit(f"synth-lab/{name}{suffix}"), ent
    for k in rng.sample(range(BENCHMARKS), RESULTS_PER_CHECKPOINT // 2):
        result = node("result", f"{name}{suffix}--synth-bench-{k}--0-shot")
        metric = "synth-accuracy" if k % 2 else "synth-error-rate"
        yield result, iri(RDF_TYPE), L("EvaluationResult"), bench
        yield result, L("evaluatedModel"), checkpoint, bench
        yield result, L("benchmark"), node("benchmark", f"synth-bench-{k}"), bench
        yield result, L("metric"), node("metric", metric), bench
        yield result, L("shots"), lit(0, "integer"), bench
        yield result, L("labelInSource"), lit(f"SynthBench {k}"), bench
        yield result, L("evaluatedBy"), lab, bench
        yield result, L("party"), L("FirstParty"), bench
        yield result, L("value"), lit(f"{rng.uniform(5, 95):.1f}", "decimal"), bench


def _sources(i: int, card_doc: str, blog_doc: str, lab: str, g: str) -> Iterator[Quad]:
    yield from _graph_header(g, "CuratedGraph", f"triples/synth/sources/synth-{i}.ttl")
    commit = f"{i:040x}"
    for doc, title, primary, issued in (
        (card_doc, "model card", True, "2025-01-10"),
        (blog_doc, "blog", False, "2025-02-01"),
    ):
        yield doc, iri(RDF_TYPE), L("SourceDocument"), g
        yield doc, iri(DCT + "title"), lit(f"Synth {i} {title}"), g
        yield doc, iri(DCT + "issued"), lit(issued, "date"), g
        yield doc, L("retrievedOn"), lit("2026-01-01", "date"), g
        yield doc, L("evidence"), L("Primary" if primary else "Secondary"), g
        yield doc, L("party"), L("FirstParty" if primary else "ThirdParty"), g
        yield (
            doc,
            iri(DCT + "identifier"),
            lit(
                f"github.com/synth-lab/synth-{i}@{commit}:MODEL_CARD.md"
                if primary
                else f"https://blog.example/synth-{i}"
            ),
            g,
        )
        if primary:
            yield doc, L("commit"), lit(commit), g
    yield from _typed(node("licence", f"synth-{i}-community"), "Licence", f"Synth {i} Community License", g)
    yield node("licence", f"synth-{i}-community"), L("monthlyActiveUserThreshold"), lit(700_000_000, "integer"), g


def _typed(subject: str, kind: str, label: str, g: str) -> Iterator[Quad]:
    yield subject, iri(RDF_TYPE), L(kind), g
    yield subject, iri(RDFS_LABEL), lit(label), g


def _graph_header(g: str, kind: str, source_file: str) -> Iterator[Quad]:
    yield g, iri(RDF_TYPE), L(kind), g
    yield g, L("sourceFile"), lit(source_file), g
    if kind == "CuratedGraph":
        yield g, iri(DCT + "creator"), lit("llmkg curators"), g


def _fact_header(g: str, doc: str, locator: str, source_file: str) -> Iterator[Quad]:
    yield from _graph_header(g, "FactGraph", source_file)
    yield g, iri(PROV + "wasDerivedFrom"), doc, g
    yield g, L("locator"), lit(locator), g


def preferred(quads: list[Quad]) -> Iterator[Quad]:
    """graph/preferred for one family's quads (or the common graph's): the best-ranked graph per (s, p).

    Within a family the ranks are fixed: curated graphs, then the card (primary, first-party),
    then the blog (secondary, third-party). Graph metadata (subject = its graph) is not a statement.
    """
    best: dict[tuple[str, str], tuple[int, list[str]]] = {}
    for s, p, o, g in quads:
        if s == g:
            continue
        r = _rank(g)
        held = best.get((s, p))
        if held is None or r < held[0]:
            best[(s, p)] = (r, [o])
        elif r == held[0]:
            held[1].append(o)
    target = iri(PREFERRED_GRAPH)
    for (s, p), (_, objects) in best.items():
        for o in dict.fromkeys(objects):
            yield s, p, o, target


def _rank(g: str) -> int:
    path = g[1:-1].removeprefix(GRAPH + "synth/")
    if path.startswith(("entities/", "sources/")):
        return 0
    return 1 if "/card/" in path else 2


def vocabulary(dataset: Dataset | None = None) -> list[ox.Quad]:
    """The shipped ontology, shapes and saved-query graphs, and their part of graph/default."""
    dataset = dataset or load_dataset()
    wanted = {g for g, f in dataset.graph_files.items() if f.startswith(VOCABULARY[:2])} | {GRAPH + "queries"}
    vocab = [q for q in dataset.quads if isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value in wanted]
    return vocab + default_quads(vocab)


def lines(families: int, *, seed: int = 0, start: int = 0) -> Iterator[str]:
    """The synthetic data (without vocabulary) as N-Quads lines, one family at a time.

    Families ``start`` to ``start + families - 1``; each has its own random stream, so any range
    of families is the same wherever it is generated (``start`` > 0 leaves the shared graphs out).
    """
    target = iri(PREFERRED_GRAPH)
    if start == 0:
        yield f"{target} {iri(RDF_TYPE)} {L('DerivedGraph')} {target} .\n"
        yield f"{target} {L('sourceFile')} {lit('server/llmkg/provenance.py')} {target} .\n"
        yield f"{target} {iri(RDF_TYPE)} {L('DerivedGraph')} {iri(DEFAULT_GRAPH)} .\n"
        yield f"{target} {L('sourceFile')} {lit('server/llmkg/provenance.py')} {iri(DEFAULT_GRAPH)} .\n"
        yield from _nquads(list(common()))
    for i in range(start, start + families):
        yield from _nquads(list(family(i, random.Random(seed * 1_000_003 + i))))


def _nquads(quads: list[Quad]) -> Iterator[str]:
    chosen = list(preferred(quads))
    for s, p, o, g in (*quads, *chosen):
        yield f"{s} {p} {o} {g} .\n"
    records = [(s, p, o) for s, p, o, g in quads if s == g]  # each graph's own record
    default = iri(DEFAULT_GRAPH)
    for s, p, o in dict.fromkeys([*records, *((s, p, o) for s, p, o, _ in chosen)]):
        yield f"{s} {p} {o} {default} .\n"


def dataset(families: int, *, seed: int = 0, start: int = 0) -> Dataset:
    """Families ``start``… with the shared graphs and the shipped vocabulary, as the build would give them.

    Families are self-contained (they share only the common graph), so a range of them can be
    validated on its own: that is how ``scale.py`` validates a large graph in bounded memory.
    """
    shipped = load_dataset()
    data = "".join(lines(families, seed=seed, start=start))
    if start:
        data += "".join(lines(0, seed=seed))
    quads = vocabulary(shipped) + list(ox.parse(data, format=ox.RdfFormat.N_QUADS))
    quads += findings_quads(quads)
    files = {g: f for g, f in shipped.graph_files.items() if f.startswith(VOCABULARY[:2])}
    for q in quads:
        if q.predicate.value == LLMKG + "sourceFile" and str(q.object.value).startswith("triples/"):
            files[str(q.subject.value)] = str(q.object.value)
    return Dataset(quads=quads, graph_files=files)


def write(path: Path, triples: int, *, seed: int = 0) -> int:
    """Write about ``triples`` quads (synthetic data plus vocabulary) to ``path`` as N-Quads, then the
    build's findings over them (:func:`add_findings`); return the count."""
    return write_data(path, triples, seed=seed) + add_findings(path)[0]


def write_data(path: Path, triples: int, *, seed: int = 0) -> int:
    """:func:`write` without the findings (``scale.py`` times them apart); return the count."""
    vocab = vocabulary()
    families = max(1, (triples - len(vocab)) // QUADS_PER_FAMILY)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.writelines(f"{q} .\n" for q in vocab)
        for line in lines(families, seed=seed):
            out.write(line)
            count += 1
    return count + len(vocab)


def add_findings(path: Path) -> tuple[int, float]:
    """Append graph/findings, as the build computes it from all the quads in ``path``; return the number
    of quads added and the seconds the build's function took (its cost at this size)."""
    quads = list(ox.parse(path=path, format=ox.RdfFormat.N_QUADS, lenient=True))
    started = time.perf_counter()
    found = findings_quads(quads)
    seconds = time.perf_counter() - started
    del quads
    with path.open("a", encoding="utf-8") as out:
        out.writelines(f"{q} .\n" for q in found)
    return len(found), seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triples", type=int, default=100_000, help="approximate number of quads")
    parser.add_argument("--out", type=Path, required=True, help="N-Quads file to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    count = write(args.out, args.triples, seed=args.seed)
    sys.stderr.write(f"wrote {count} quads to {args.out}\n")


if __name__ == "__main__":
    main()
