"""The served dataset as one object: turn requests into jobs, answer them, describe and dump the data.

No HTTP here: the web layer (api.py) passes in plain values (the query, the graphs, the Accept
header) and gets back bytes, a media type, or a :class:`~llmkg.sparql.QueryError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import json
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import anyio
import anyio.from_thread
import pyoxigraph as ox

from llmkg import __version__
from llmkg.config import ServerSettings
from llmkg.engine.admission import AdmissionLimits
from llmkg.engine.pool import WorkerPool
from llmkg.engine.remote_pool import pool_for
from llmkg.engine.worker import Limits
from llmkg.kg import asof, describe, names
from llmkg.kg.build import DUMPS, Dataset, write_dumps
from llmkg.kg.jsonld_context import jsonld_context
from llmkg.namespaces import DEFAULT_GRAPH, PREFIXES, RDF_TYPE, RDFS, expand
from llmkg.sparql.answers import QueryResult, read_result
from llmkg.sparql.formats import GRAPH_FORMATS, N_TRIPLES, RESULT_FORMATS, RESULTS_JSON, Format, negotiate
from llmkg.sparql.query import Job, QueryError, binding, check, inspect
from llmkg.sparql.remote import RemoteStore
from llmkg.sparql.store import Backend, GraphName, Term

V = TypeVar("V")
#: Results up to this size are sent whole (with Content-Length) and may be cached; larger ones stream.
STREAM_AFTER = 1 << 20


@dataclass
class Answer:
    """A query's whole answer (``stream`` is always None, so code written for either kind reads it)."""

    content_type: str
    body: bytes
    query_ms: float = 0.0
    cached: bool = False
    stream: None = None


@dataclass
class StreamedAnswer:
    """A large answer, as the chunks arrive from the worker."""

    content_type: str
    stream: AsyncIterator[bytes]
    query_ms: float = 0.0
    cached: bool = False
    body: None = None


class ResultCache(Generic[V]):
    """A bounded LRU of whole answers; the data never changes while served, so nothing expires.

    Bounded by entries and by bytes (``weigh``: a value's size; by default the length of the body in
    a (media type, body) pair), so that answers larger than the whole-body limit (which stream) can
    be kept too: under load the same large saved query is asked again and again.
    """

    def __init__(
        self,
        entries: int,
        max_bytes: int = 64 << 20,
        max_entry_bytes: int = 8 << 20,
        weigh: Callable[[V], int] = lambda value: len(value[1]),  # type: ignore[index]
    ) -> None:
        self.entries, self.max_bytes, self.weigh = entries, max_bytes, weigh
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self._items: OrderedDict[str, V] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
            return self._items.get(key)

    def put(self, key: str, value: V) -> None:
        if self.entries <= 0 or self.weigh(value) > self.max_entry_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self._bytes += self.weigh(value) - (self.weigh(old) if old is not None else 0)
            self._items[key] = value
            while len(self._items) > self.entries or self._bytes > self.max_bytes:
                self._bytes -= self.weigh(self._items.popitem(last=False)[1])


def content_type(media_type: str) -> str:
    fmt = next((f for f in (*RESULT_FORMATS, *GRAPH_FORMATS) if f.media_type == media_type), None)
    return fmt.content_type if fmt else media_type


class Endpoint:
    """The store, the worker pool that queries it, the cache, and what describes the data."""

    def __init__(
        self,
        store: Backend,
        *,
        source: Backend | Path,
        settings: ServerSettings,
        version: str,
        statistics: describe.Statistics | None = None,
    ) -> None:
        """``statistics``: what the build recorded (describe.recorded_statistics), else counted on first use."""
        self.settings, self.version = settings, version
        #: What the server's own code (pages, saved queries, statistics, audit, VoID) reads: a remote
        #: engine is already another process; the embedded store is read only through the workers.
        self.store: Backend = store if isinstance(store, RemoteStore) else PooledStore(self)
        limits = Limits(
            timeout_s=settings.query_timeout_s,
            max_result_bytes=settings.max_result_bytes,
            max_result_rows=settings.max_result_rows,
            memory_bytes=settings.worker_memory_mb << 20,
            recycle_bytes=settings.worker_recycle_mb << 20,
            network=bool(settings.service_allowlist),
        )
        admission = AdmissionLimits(
            per_client=settings.per_client_queries, queue=settings.queue_length, wait_s=settings.queue_timeout_s
        )
        self.pool = pool_for(
            source, size=settings.workers, limits=limits, allowlist=settings.service_allowlist, admission=admission
        )
        self.cache: ResultCache[tuple[str, bytes]] = ResultCache(
            settings.cache_entries, max_bytes=settings.cache_mb << 20
        )
        self._running: dict[str, asyncio.Future[Answer | None]] = {}  # answers being computed, by job key
        self._lock = threading.Lock()
        self._stats = statistics
        self._timeline: asof.Timeline | None = None  # read once, on the first as-of query
        self._context: bytes | None = None
        self._dump_dir: Path | None = None  # made on the first dump request
        self._dump_lock = asyncio.Lock()

    def start(self) -> None:
        self.pool.start()

    def close(self) -> None:
        self.pool.close()
        if self._dump_dir is not None:
            shutil.rmtree(self._dump_dir, ignore_errors=True)

    def job(
        self,
        query: str,
        *,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        accept: str | None = None,
        format_param: str | None = None,
        asof: str | None = None,
        undated: str | None = None,
    ) -> Job:
        """Check a query and negotiate its formats; raise QueryError 400, 403 or 406.

        ``asof`` (YYYY-MM-DD) makes the dataset the view on that date (kg/asof.py), ``undated``
        ("include", the default, or "exclude") says whether undated source versions are in it.
        """
        for iri in (*default_graphs, *named_graphs):
            _graph_iri(iri)
        shape = check(query, allowlist=self.settings.service_allowlist, max_operators=self.settings.max_query_operators)
        results, graph = _negotiate_for(shape.form, accept, format_param)
        if asof is not None or undated is not None:
            if default_graphs or named_graphs or shape.has_dataset_clause:
                raise QueryError(
                    400, "Invalid request", "asof names the dataset: drop FROM, default-graph-uri, named-graph-uri"
                )
            default_graphs, named_graphs = self.view(asof, undated)
        served_default = not (default_graphs or named_graphs or shape.has_dataset_clause)
        return Job(
            query=query,
            default_graphs=tuple(default_graphs),
            named_graphs=tuple(named_graphs),
            served_default=served_default,
            results_type=results.media_type if results else None,
            graph_type=graph.media_type if graph else None,
        )

    def view(self, date: str | None, undated: str | None) -> tuple[list[str], list[str]]:
        """(default graphs, named graphs) of the view on ``date``; QueryError 400 for a bad parameter."""
        if date is None:
            raise QueryError(400, "Invalid request", "undated= goes with asof=YYYY-MM-DD")
        if undated not in (None, *UNDATED):
            raise QueryError(400, "Invalid request", f"undated={undated!r}: expected one of {', '.join(UNDATED)}")
        try:
            day = asof.parse_date(date)
            if self._timeline is None:  # two first queries at once read it twice, harmlessly
                self._timeline = asof.timeline(self.store)
            return self._timeline.dataset(day, undated=undated != "exclude")
        except asof.DateError as error:
            raise QueryError(400, "Invalid asof", str(error)) from None

    def graph_job(self, graph: str | None, *, accept: str | None, format_param: str | None) -> Job:
        """Graph Store Protocol, read side: one named graph, or (``graph`` None) the default graph."""
        fmt = negotiate(accept, format_param, GRAPH_FORMATS)
        if fmt is None:
            raise _not_acceptable(GRAPH_FORMATS)
        if graph is not None and graph.partition(":")[0] in PREFIXES:
            graph = expand(graph)  # a prefixed name such as graph:preferred
        if graph is not None and not self.store.contains_named_graph(_graph_iri(graph)):
            close = names.suggest(graph, sorted(self.statistics().graph_triples))
            raise QueryError(404, "No such graph", names.unknown_message(graph, close, what="graph"))
        text = "CONSTRUCT WHERE { ?s ?p ?o }"
        if graph is None:
            return Job(query=text, graph_type=fmt.media_type)
        return Job(query=text, default_graphs=(graph,), served_default=False, graph_type=fmt.media_type)

    def etag(self, *parts: str | None) -> str:
        """A validator for a GET answer: the data version and everything else that shapes the answer."""
        digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
        return f'W/"{self.version}-{digest}"'

    def answer(self, job: Job) -> Answer:
        """:meth:`query`, blocking, with the whole body: for code on a worker thread or with no event loop."""

        async def whole() -> Answer:
            answer = await self.query(job)
            if isinstance(answer, Answer):
                return answer
            body = b"".join([chunk async for chunk in answer.stream])
            return Answer(answer.content_type, body=body, query_ms=answer.query_ms)

        if _loop_running_here():  # sync code on the event loop's thread: block it, as the store itself would
            with concurrent.futures.ThreadPoolExecutor(1) as helper:
                return helper.submit(asyncio.run, whole()).result()
        try:
            return anyio.from_thread.run(whole)
        except RuntimeError:  # not on a worker thread of a running loop: run one here
            return asyncio.run(whole())

    async def query(self, job: Job) -> Answer | StreamedAnswer:
        """Run ``job`` in a worker; small answers come whole, large ones stream; both are cached.

        A job already running for another request is not run again: the later request waits for its
        answer (when that answer comes whole), so a burst of one query costs one worker, not many.
        """
        key = job_key(job)
        hit = self.cache.get(key)
        if hit is not None:
            return Answer(content_type(hit[0]), body=hit[1], cached=True)
        shared = await self._answer_of_running(key)
        if shared is not None:
            return shared
        leader: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        self._running[key] = leader
        try:
            answer = await self._run(job, key)
            leader.set_result(answer if isinstance(answer, Answer) else None)
            return answer
        except QueryError as error:
            leader.set_exception(error)
            leader.exception()  # retrieved here, so asyncio logs nothing when no other request waited
            raise
        finally:
            self._running.pop(key, None)
            if not leader.done():
                leader.cancel()  # this request was cancelled: the waiting ones run the query themselves

    async def _answer_of_running(self, key: str) -> Answer | None:
        """The answer of the same job running for another request, or None when there is none to share."""
        running = self._running.get(key)
        if running is None or running.get_loop() is not asyncio.get_running_loop():
            return None
        try:
            answer = await asyncio.shield(running)
        except asyncio.CancelledError:
            if not running.cancelled():
                raise  # this request itself was cancelled
            return None
        return None if answer is None else Answer(answer.content_type, body=answer.body, cached=True)

    async def _run(self, job: Job, key: str) -> Answer | StreamedAnswer:
        started = time.perf_counter()
        reply = await self.pool.submit(job)
        chunks, head, size = reply.chunks(), [], 0
        async for chunk in chunks:
            head.append(chunk)
            size += len(chunk)
            if size > STREAM_AFTER:
                elapsed = (time.perf_counter() - started) * 1000
                stream = self._kept(key, reply.media_type, _chain(head, chunks))
                return StreamedAnswer(content_type(reply.media_type), stream=stream, query_ms=elapsed)
        body = b"".join(head)
        self.cache.put(key, (reply.media_type, body))
        return Answer(content_type(reply.media_type), body=body, query_ms=(time.perf_counter() - started) * 1000)

    async def _kept(self, key: str, media_type: str, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Pass a streamed answer on, keeping a copy for the cache while it fits."""
        kept: list[bytes] | None = [] if self.cache.entries > 0 else None
        size = 0
        async for chunk in stream:
            size += len(chunk)
            if size > self.cache.max_entry_bytes:
                kept = None
            elif kept is not None:
                kept.append(chunk)
            yield chunk
        if kept is not None:  # only a complete answer is cached
            self.cache.put(key, (media_type, b"".join(kept)))

    def statistics(self) -> describe.Statistics:
        with self._lock:
            if self._stats is None:
                self._stats = describe.statistics(self.store)
            return self._stats

    def service_description(
        self, *, endpoint: str, accept: str | None, format_param: str | None
    ) -> tuple[Format, bytes]:
        triples = describe.service_description(
            self.statistics(),
            endpoint=endpoint,
            dataset=self.dataset_iri,
            federated=bool(self.settings.service_allowlist),
        )
        return _serialise(triples, accept, format_param)

    def void(self, *, base_url: str, accept: str | None, format_param: str | None) -> tuple[Format, bytes]:
        triples = describe.void_description(
            self.statistics(), dataset=self.dataset_iri, base_url=base_url, version=self.version
        )
        return _serialise(triples, accept, format_param)

    def dcat(self, *, base_url: str, accept: str | None, format_param: str | None) -> tuple[Format, bytes]:
        triples = describe.dcat_description(
            self.statistics(), dataset=self.dataset_iri, base_url=base_url, version=self.version
        )
        return _serialise(triples, accept, format_param)

    def jsonld_context(self) -> bytes:
        """The JSON-LD context, computed once from the types and ranges the store declares."""
        with self._lock:
            if self._context is None:
                quads = [
                    *self.store.quads_for_pattern(None, ox.NamedNode(RDF_TYPE), None, None),
                    *self.store.quads_for_pattern(None, ox.NamedNode(RDFS + "range"), None, None),
                ]
                self._context = json.dumps(jsonld_context(quads), indent=1).encode()
            return self._context

    @property
    def dataset_iri(self) -> str:
        return self.settings.public_base + "dataset"

    async def dump(self, name: str) -> Path:
        """The canonical N-Quads or TriG dump of the served store, made once on first use: by a query
        worker for the embedded store, by reading every graph for a remote engine."""
        if name not in DUMPS:
            raise QueryError(404, "No such dump", f"dumps available: {', '.join(DUMPS)}")
        async with self._dump_lock:
            if self._dump_dir is None:
                self._dump_dir = Path(tempfile.mkdtemp(prefix="llmkg-dumps-"))
            folder = self._dump_dir
            target = folder / name
            if target.is_file():
                return target
            if isinstance(self.pool, WorkerPool):
                reply = await self.pool.dump(name)
                partial = target.with_suffix(".part")
                with partial.open("wb") as out:
                    async for chunk in reply.chunks():
                        out.write(chunk)
                partial.replace(target)  # only a whole dump is ever served
            else:
                await anyio.to_thread.run_sync(lambda: write_dumps(Dataset(quads=list(self.store)), folder))
            return target

    def versions(self) -> dict[str, str | None]:
        return {"package": __version__, "ontology": describe.ontology_version(self.store), "data": self.version}

    def health(self) -> dict[str, object]:
        """``degraded`` while workers are missing; ``busy`` while every place is taken (see admission.py)."""
        stats, queue = self.pool.stats(), self.pool.admission.stats()
        status = "degraded" if stats["live"] < stats["size"] else "busy" if queue["free"] == 0 else "ok"
        return {"status": status, "workers": stats, "queue": queue}


class PooledStore:
    """The embedded store as the server's own code reads it: every read is a job for the query workers.

    It has the :class:`~llmkg.backend.Backend` methods, so the pages, the saved queries, the
    statistics, the audit and the VoID and service descriptions run unchanged, but an engine abort,
    a crash or a runaway query in any of them costs that request and one worker, never the server.
    Call it from a thread (``run_in_threadpool``); on the event loop's thread it blocks the loop.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def query(
        self,
        query: str,
        *,
        prefixes: dict[str, str] | None = None,
        use_default_graph_as_union: bool = False,
        default_graph: GraphName | list[GraphName] | None = None,
        named_graphs: list[ox.NamedNode | ox.BlankNode] | None = None,
        substitutions: dict[ox.Variable, Term] | None = None,
    ) -> QueryResult:
        """Like ``pyoxigraph.Store.query`` (graphs given by IRI), answered by a worker; raises QueryError.

        The default graph named alone (``default_graph=graph/default``) is the served dataset, with
        every named graph available, as for a query sent to the endpoint without a dataset.
        """
        if use_default_graph_as_union:
            raise ValueError("the store serves graph/default as its default graph, not the union of all graphs")
        defaults = default_graph if isinstance(default_graph, list) else [default_graph] if default_graph else []
        default_iris = tuple(g.value for g in defaults if isinstance(g, ox.NamedNode))
        served = default_iris == (DEFAULT_GRAPH,) and named_graphs is None
        job = Job(
            query="".join(f"PREFIX {n}: <{i}>\n" for n, i in (prefixes or {}).items() if PREFIXES.get(n) != i) + query,
            default_graphs=() if served else default_iris,
            named_graphs=tuple(g.value for g in named_graphs or () if isinstance(g, ox.NamedNode)),
            served_default=served,
            results_type=RESULTS_JSON,
            graph_type=N_TRIPLES,
            bindings=tuple(
                binding(v.value, t) for v, t in (substitutions or {}).items() if not isinstance(t, ox.Triple)
            ),
            client="",  # the server's own fixed reads: they queue like any query but take no client's share
            own_read=True,
        )
        answer = self.endpoint.answer(job)
        media_type = answer.content_type.split(";")[0].strip()
        return read_result(answer.body, media_type, ask=inspect(query).form == "ASK")

    def quads_for_pattern(
        self,
        subject: ox.NamedNode | ox.BlankNode | ox.Triple | None,
        predicate: ox.NamedNode | None,
        object: Term | None,
        graph_name: GraphName | None = None,
    ) -> Iterator[ox.Quad]:
        """The quads matching a pattern (None matches anything), as ``pyoxigraph.Store`` finds them."""
        if subject is None and predicate is None and object is None and isinstance(graph_name, ox.NamedNode):
            return iter(self._graph(graph_name))
        if subject is None and predicate is None and object is None and graph_name is None:
            return iter(self)
        return iter(self._matching({"s": subject, "p": predicate, "o": object}, graph_name))

    def _matching(self, terms: dict[str, Term | None], graph_name: GraphName | None) -> list[ox.Quad]:
        # IRIs and literals are written into the pattern, so the engine starts from them; blank nodes
        # cannot be, and are bound by substitution.
        pattern = " ".join(f"?{k}" if t is None or isinstance(t, ox.BlankNode) else str(t) for k, t in terms.items())
        if isinstance(graph_name, ox.DefaultGraph):
            where = f"{{ {pattern} }}"
        elif graph_name is None:
            where = f"{{ {{ {pattern} }} UNION {{ GRAPH ?g {{ {pattern} }} }} }}"
        else:
            where = f"{{ GRAPH {graph_name} {{ {pattern} }} }}"
        subs: dict[ox.Variable, Term] = {ox.Variable(k): t for k, t in terms.items() if isinstance(t, ox.BlankNode)}
        found = self.query(f"SELECT * WHERE {where}", substitutions=subs)
        assert isinstance(found, ox.QuerySolutions)
        quads = []
        for row in found:
            s, p, o = (row[k] if t is None else t for k, t in terms.items())
            g = graph_name if graph_name is not None else row["g"] or ox.DefaultGraph()
            quads.append(ox.Quad(s, p, o, g))  # type: ignore[arg-type]
        return quads

    def _graph(self, graph: ox.NamedNode) -> list[ox.Quad]:
        """One named graph whole, as N-Triples: far smaller than a table of its quads."""
        found = self.query("CONSTRUCT WHERE { ?s ?p ?o }", default_graph=graph)
        assert isinstance(found, ox.QueryTriples)
        return [ox.Quad(t.subject, t.predicate, t.object, graph) for t in found]

    def contains_named_graph(self, graph_name: GraphName) -> bool:
        if not isinstance(graph_name, ox.NamedNode):
            return False
        return bool(self.query(f"ASK {{ GRAPH {graph_name} {{ ?s ?p ?o }} }}"))

    def __iter__(self) -> Iterator[ox.Quad]:
        """Every quad, one graph at a time, so no single answer holds the whole store."""
        found = self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        assert isinstance(found, ox.QuerySolutions)
        graphs = [row["g"] for row in found]
        quads = self._matching({"s": None, "p": None, "o": None}, ox.DefaultGraph())
        for graph in graphs:
            if isinstance(graph, ox.NamedNode):
                quads.extend(self._graph(graph))
        return iter(quads)


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _chain(head: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in head:
        yield chunk
    async for chunk in rest:
        yield chunk


def job_key(job: Job) -> str:
    """What the answer depends on: everything but the request that asks."""
    return json.dumps({**job.to_dict(), "request_id": None}, sort_keys=True)


#: Values of the ``undated`` parameter of an as-of query.
UNDATED = ("include", "exclude")


def _graph_iri(value: str) -> ox.NamedNode:
    try:
        return ox.NamedNode(value)
    except ValueError:
        raise QueryError(400, "Invalid graph IRI", f"not an absolute IRI: {value[:200]!r}") from None


@functools.lru_cache(maxsize=512)
def _negotiate_for(form: str, accept: str | None, format_param: str | None) -> tuple[Format | None, Format | None]:
    """The one format the answer will take, chosen before the query runs: a results format for
    SELECT and ASK, a graph format for CONSTRUCT and DESCRIBE. A text whose form cannot be read is
    left to the engine, which refuses it with line and column, so both kinds stay open for it.
    """
    kinds = {"SELECT": "SELECT or ASK", "ASK": "SELECT or ASK", "CONSTRUCT": "CONSTRUCT or DESCRIBE"}
    kinds["DESCRIBE"] = kinds["CONSTRUCT"]
    results = negotiate(accept, format_param, RESULT_FORMATS) if form not in ("CONSTRUCT", "DESCRIBE") else None
    graph = negotiate(accept, format_param, GRAPH_FORMATS) if form not in ("SELECT", "ASK") else None
    if results is None and graph is None:
        if form not in kinds:
            raise _not_acceptable((*RESULT_FORMATS, *GRAPH_FORMATS))
        names = ", ".join(f.media_type for f in (RESULT_FORMATS if form in ("SELECT", "ASK") else GRAPH_FORMATS))
        raise QueryError(406, "Not Acceptable", f"the result of a {kinds[form]} query can be served as: {names}")
    return results, graph


def _not_acceptable(formats: Sequence[Format]) -> QueryError:
    offered = ", ".join(f.media_type for f in formats)
    return QueryError(406, "Not Acceptable", f"nothing acceptable to serve; available: {offered}")


def _serialise(triples: list[ox.Triple], accept: str | None, format_param: str | None) -> tuple[Format, bytes]:
    fmt = negotiate(accept, format_param, GRAPH_FORMATS)
    if fmt is None:
        raise _not_acceptable(GRAPH_FORMATS)
    triples = sorted(triples, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))
    data = ox.serialize(triples, format=fmt.native, prefixes=describe.DESCRIPTION_PREFIXES)  # type: ignore[arg-type]
    return fmt, data or b""
