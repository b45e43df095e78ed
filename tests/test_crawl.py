"""The real server on the shipped data, crawled from its home page: every page and every RDF alternate it
offers answers with a 2xx, and the process that answered the first request answers the last (no request of
any kind takes the server down, no worker crashes). No 4xx is deliberate here: every URL comes from a link
the site itself offers, so a 4xx is a broken link, and it goes where robots.txt lets crawlers go. Every page,
and the RDF alternates of one resource in RDF_SAMPLE (chosen by a hash of its path, so each run fetches the
same ones); the whole-dataset dumps are left to test_server_http.
"""

from __future__ import annotations

import concurrent.futures
import html
import re
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx2
import pytest

from llmkg.kg.build import Dataset, write_store

from .server_support import RunningServer, running_server

pytestmark = pytest.mark.xdist_group("crawl")
#: Links a crawl does not follow: downloads of the whole dataset (tested in test_server_http).
NOT_FOLLOWED = ("/dumps/",)
CLIENTS = 4
#: Every page is fetched; the RDF alternates (seven formats each) of one resource in this many, chosen by
#: a hash of its path: each format of each kind of resource is still reached, in a quarter of the time.
RDF_SAMPLE = 4
#: The first path segments the crawl must reach: each kind of page of the site.
SECTIONS = {"compare", "id", "graph", "query", "leaderboards", "conflicts", "sources", "ontology", "editor", "audit"}
#: What a browser asks for; a ``?format=`` link overrides it.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


#: A link in a page: anchors, stylesheets and alternates, scripts and images (the pages quote attributes).
LINK = re.compile(r'<(?:a|link)\b[^>]*?\shref="([^"]*)"|<(?:script|img)\b[^>]*?\ssrc="([^"]*)"')


@dataclass
class Crawl:
    base: str
    disallowed: tuple[str, ...] = ()  # what the site's robots.txt asks crawlers to leave alone
    seen: set[str] = field(default_factory=set)
    answers: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inside(self, url: str) -> str | None:
        """``url`` without its fragment when it is a page of this site worth following, else None."""
        url = urldefrag(url).url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.base or parts.path.startswith(NOT_FOLLOWED):
            return None
        if "format=html" in parts.query:  # the page itself, already fetched as a browser asks for it
            return None
        if "format=" in parts.query and zlib.crc32(parts.path.encode()) % RDF_SAMPLE:
            return None  # the RDF alternates of one resource in RDF_SAMPLE, the same ones in every run
        where = parts.path + ("?" + parts.query if parts.query else "")
        return None if where.startswith(self.disallowed) else url

    def claim(self, urls: list[str]) -> list[str]:
        with self.lock:
            new = [u for u in dict.fromkeys(urls) if u not in self.seen]
            self.seen.update(new)
        return new

    def visit(self, client: httpx2.Client, url: str) -> list[str]:
        """Fetch one URL; return the site's links it offers (in its HTML and its Link header)."""
        response = client.get(url, headers={"Accept": BROWSER})
        with self.lock:
            self.answers[url] = response.status_code
        if response.status_code >= 400:
            return []
        offered = [link.split(">")[0].strip(" <") for link in response.headers.get("link", "").split(",") if link]
        if response.headers.get("content-type", "").startswith("text/html"):
            offered += [html.unescape(a or b) for a, b in LINK.findall(response.text)]
        return [u for u in (self.inside(urljoin(url, link)) for link in offered) if u]


def crawl(base: str) -> Crawl:
    """Breadth first from the home page, ``CLIENTS`` requests at a time, as robots.txt allows."""
    robots = httpx2.get(base + "/robots.txt", timeout=30).text.splitlines()
    state = Crawl(base, tuple(line.split(":", 1)[1].strip() for line in robots if line.startswith("Disallow:")))
    frontier = state.claim([base + "/"])
    client = httpx2.Client(timeout=120, follow_redirects=True)
    with client, concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        while frontier:
            found = [link for links in pool.map(lambda u: state.visit(client, u), frontier) for link in links]
            frontier = state.claim(found)
    return state


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, dataset: Dataset) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("crawl")
    write_store(dataset, folder / "store")
    with running_server(folder / "store", log=folder / "serve.log", timeout_s=60.0) as running:
        yield running


def test_every_page_and_every_format_answers_and_the_server_stays(server: RunningServer) -> None:
    result = crawl(server.base)
    failed = {url: status for url, status in result.answers.items() if status >= 400}  # a link to a 4xx is a bug
    assert not failed, f"{len(failed)} of {len(result.answers)} answers failed: {sorted(failed.items())[:30]}"
    assert _alive(server.pid), Path(server.log).read_text()[-3000:]
    health = httpx2.get(server.base + "/health", timeout=30).json()
    assert health["status"] == "ok" and health["workers"]["restarts"] == 0, health
    paths = {urlsplit(url).path.split("/")[1] for url in result.answers}
    assert paths >= SECTIONS, SECTIONS - paths
    assert sum("format=turtle" in url for url in result.answers) > 500


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a crashed server stays one until it is reaped)."""
    stat = Path(f"/proc/{pid}/stat")
    return stat.is_file() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
