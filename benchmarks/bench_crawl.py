"""End-to-end crawl speed and memory: newscrawl (pool, 1 worker, inline) vs trafilatura's crawler.

    .venv/bin/python benchmarks/bench_crawl.py --pages 1000 --runs 3
    .venv/bin/python benchmarks/bench_crawl.py --pages 10000 --runs 1 --variants pool

Generates a site of N article pages from the demo fixture pages (each copy gets its own
URL, canonical link and title, and its paragraphs' words shuffled, so no two pages are
duplicates of each other while the boilerplate around them stays the same), serves it on
loopback from a separate process with a sitemap, and crawls it end to end:

- `pool`     `scrapy crawl sitemap -a sitemap=URL`, NEWSCRAWL_EXTRACT_WORKERS=auto (one per CPU)
- `1worker`  the same with NEWSCRAWL_EXTRACT_WORKERS=1
- `inline`   the same with NEWSCRAWL_EXTRACT_WORKERS=0 (extraction in the reactor thread)
- `trafilatura`  `trafilatura --sitemap URL --list`, then `trafilatura -i LIST --json
             --with-metadata`: trafilatura's own crawler (see run_trafilatura for why two steps),
             with a config that allows loopback (SSRF_PROTECTION=off) and no delay between
             requests (SLEEP_TIME=0; its default of 5 s per request to one host would make
             the comparison meaningless); newscrawl's runs also have no delay or AutoThrottle.
             trafilatura (courlan) refuses URLs whose host is an IP address or `localhost`,
             so its sitemap names the host `newscrawl-bench.test`, which a `sitecustomize`
             on its PYTHONPATH resolves to 127.0.0.1 (what a hosts-file line would do).

For each run: pages/s (pages in the sitemap / wall time of the command, start-up
included), CPU utilisation (user+sys of the command and all its children / wall time,
in cores, and as a share of the machine's CPUs), peak RSS of the whole process tree
(sampled from /proc every 50 ms, sum over processes) and of its largest process, the
CPU time of the top process alone per page
(for newscrawl: the reactor, whose share decides how far the worker pool can scale), and
the CPU the loopback server spent per page (not counted in the crawler's figures), and the
machine's idle CPU during the run, in cores (/proc/stat: what neither the crawl, nor the
server, nor anything else on the machine used).
Variants run round-robin; the medians and the ratios within each round (median over
rounds) are printed; for newscrawl variants also the ratio over Scrapy's own
elapsed_time_seconds (spider open to close), which leaves out interpreter start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "sites" / "demo"
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.05
VARIANTS = ("pool", "1worker", "inline", "trafilatura")
WORKERS = {"pool": "auto", "1worker": "1", "inline": "0"}
# The crawl settings of the benchmark: as fast as the loopback site allows, no politeness.
SCRAPY_SETTINGS = {
    "NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES": "1",
    "NEWSCRAWL_STATE": "memory://",
    "AUTOTHROTTLE_ENABLED": "0",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "LOG_LEVEL": "INFO",
}
TRAFILATURA_CONFIG = """[DEFAULT]
DOWNLOAD_TIMEOUT = 30
MAX_FILE_SIZE = 20000000
MIN_FILE_SIZE = 10
SLEEP_TIME = 0
USER_AGENTS =
COOKIE =
MAX_REDIRECTS = 2
SSRF_PROTECTION = off
INSECURE_SSL_FALLBACK = on
MIN_EXTRACTED_SIZE = 250
MIN_OUTPUT_SIZE = 1
MIN_OUTPUT_COMM_SIZE = 1
MAX_TREE_SIZE =
MIN_EXTRACTED_COMM_SIZE = 1
MIN_DUPLCHECK_SIZE = 100
MAX_REPETITIONS = 2
EXTENSIVE_DATE_SEARCH = on
EXTERNAL_URLS = off
"""
_TAG_SPLIT = re.compile(r"(<[^>]+>)")
_ASCII_SPACE = re.compile(r"[ \t\r\n]+")
_LINK_OR_META = re.compile(r"<(?:link|meta)\b[^>]*>", re.I)
_SELF_REFERENCE = re.compile(r"""\b(?:rel=["']?canonical\b|property=["']og:url["'])""", re.I)
_URL_ATTRIBUTE = re.compile(r"""\b(?:href|content)=["']([^"']+)["']""", re.I)
ALIAS_HOST = "newscrawl-bench.test"
HOSTS_SHIM = f"""# newscrawl benchmark: resolve {ALIAS_HOST} to loopback, like a hosts-file entry.
import socket

_getaddrinfo = socket.getaddrinfo


def _resolve(host, *args, **kwargs):
    return _getaddrinfo("127.0.0.1" if host == "{ALIAS_HOST}" else host, *args, **kwargs)


socket.getaddrinfo = _resolve
"""


def demo_articles() -> list[str]:
    """Root-relative paths of the demo articles, from the demo site's sitemap."""
    from lxml import etree

    tree = etree.parse(str(DEMO / "sitemap.xml"))
    locs = [loc.text or "" for loc in tree.iterfind(f".//{SITEMAP_NS}loc")]
    return sorted(loc.strip().replace("{{BASE}}", "") for loc in locs if loc.strip())


def shuffle_words(match: re.Match[str], rng: random.Random) -> str:
    """One <p>…</p>: the words of each run of its text in another order, markup kept.

    Pages are handled as Latin-1 text (bytes one to one, whatever their real encoding)
    and words are split on ASCII white space only, so no multi-byte character is cut."""
    opening, body, closing = match.group(1), match.group(2), match.group(3)
    parts = _TAG_SPLIT.split(body)
    for i in range(0, len(parts), 2):  # even parts are text, odd ones tags
        words = _ASCII_SPACE.split(parts[i].strip(" \t\r\n"))  # not str.strip(): \x85, \xa0
        if len(parts[i]) >= 40 and len(words) > 3:
            rng.shuffle(words)
            parts[i] = f" {' '.join(words)} "
    return f"{opening}{''.join(parts)}{closing}"


def load_models(source: Path | None) -> list[tuple[str, str]]:
    """(model name, page as Latin-1 text) of the demo articles, or of the saved pages
    (.html, .html.gz) in `source`."""
    if source is None:
        return [
            (path, (DEMO / path.lstrip("/")).read_bytes().decode("latin-1"))
            for path in demo_articles()
        ]
    models = []
    for file in sorted(source.iterdir()):
        if file.name.endswith(".html.gz"):
            models.append((file.name[:-8], gzip.decompress(file.read_bytes()).decode("latin-1")))
        elif file.name.endswith(".html"):
            models.append((file.name[:-5], file.read_bytes().decode("latin-1")))
    if not models:
        raise SystemExit(f"{source}: no .html or .html.gz pages")
    return models


def own_urls(html: str, model: str, path: str) -> str:
    """The copy at `path` names itself: the model's path (demo pages, root-relative links)
    or its canonical link and og:url (saved pages, absolute links to their real site)."""
    if model.startswith("/"):
        return html.replace(model, path)  # canonical, og:url, JSON-LD @id
    for tag in _LINK_OR_META.findall(html):
        url = _URL_ATTRIBUTE.search(tag) if _SELF_REFERENCE.search(tag) else None
        if url and url.group(1).strip():
            own = "{{BASE}}" + path
            for quote in "\"'":  # the URL as a whole attribute or JSON value, not a prefix
                html = html.replace(f"{quote}{url.group(1)}{quote}", f"{quote}{own}{quote}")
    return html


def build_site(root: Path, pages: int, source: Path | None = None) -> list[str]:
    """N pages under root/a/, a sitemap listing them; returns their paths."""
    models = load_models(source)
    paragraph = re.compile(r"(<p(?:\s[^>]*)?>)(.*?)(</p>)", re.S | re.I)
    paths = []
    (root / "a").mkdir(parents=True)
    for number in range(pages):
        model, html = models[number % len(models)]
        path = f"/a/{number:05d}-{Path(model).name[:40]}"
        path += "" if path.endswith(".html") else ".html"
        rng = random.Random(number)
        html = own_urls(html, model, path)
        html = re.sub(
            r"(<title[^>]*>)(.*?)(</title>)",
            rf"\g<1>\g<2> ({number})\g<3>",
            html,
            count=1,
            flags=re.S | re.I,
        )
        html = paragraph.sub(lambda m, rng=rng: shuffle_words(m, rng), html)
        (root / path.lstrip("/")).write_bytes(html.encode("latin-1"))
        paths.append(path)
    for asset in ("robots.txt",):
        if (DEMO / asset).exists():
            shutil.copy(DEMO / asset, root / asset)
    urls = "".join(f"<url><loc>{{{{BASE}}}}{p}</loc></url>\n" for p in paths)
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n',
        encoding="utf-8",
    )
    return paths


SERVER_CODE = """
import sys
from pathlib import Path
from newscrawl.localserver import serve_directory

with serve_directory(Path(sys.argv[1])) as url:
    print(url, flush=True)
    sys.stdin.read()
"""


def start_server(root: Path) -> tuple[subprocess.Popen[str], str]:
    """The site served by newscrawl.localserver in its own process.

    Its CPU per page is reported apart from the crawler's: it shares the machine's cores
    with the crawler, so a cheaper server leaves more of them to extraction. It keeps
    connections alive, as news sites do (see FixtureHandler).
    """
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER_CODE, str(root)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children[int(fields[1])].append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def process_rss(pid: int) -> int:
    with contextlib.suppress(OSError, IndexError, ValueError):  # gone meanwhile
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    return 0


def process_cpu(pid: int) -> float:
    """User+system seconds of one process itself (not its children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_idle() -> float:
    """Seconds all the machine's CPUs have been idle since boot, summed (/proc/stat: idle
    and iowait), including CPUs outside this process's affinity. Over a run: the CPU that
    nothing used, so a crawl that leaves cores unused shows apart from a busy machine."""
    fields = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()
    return (int(fields[4]) + int(fields[5])) / CLOCK_TICKS


def measure(
    command: list[str], log: Path, stdout: Path | None = None, pythonpath: str = str(ROOT)
) -> dict[str, float]:
    """Run a command to the end; wall time, CPU seconds, peak RSS of its process tree, and
    the machine's idle CPU seconds meanwhile."""
    started, idle = time.perf_counter(), machine_idle()
    with log.open("w") as err, (stdout or Path(os.devnull)).open("w") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, "PYTHONPATH": pythonpath}, stdout=out, stderr=err
        )
        peak, largest = 0, 0
        # CPU seconds per process, last sample: resource.getrusage(RUSAGE_CHILDREN) would
        # miss the extraction workers, which are children of the fork server, not of the
        # crawler, so their CPU reaches no process we wait for.
        cpu_by_pid: dict[int, float] = {}
        while process.poll() is None:
            tree = process_tree(process.pid)
            sizes = [process_rss(pid) for pid in tree]
            peak, largest = max(peak, sum(sizes)), max([largest, *sizes])
            for pid in tree:
                cpu_by_pid[pid] = max(cpu_by_pid.get(pid, 0.0), process_cpu(pid))
            time.sleep(SAMPLE_SECONDS)
    wall, idle = time.perf_counter() - started, machine_idle() - idle
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}); see {log}")
    cpu = sum(cpu_by_pid.values())
    own_cpu = cpu_by_pid.get(process.pid, 0.0)
    return {
        "wall": wall,
        "cpu": cpu,
        "idle": idle,
        "peak_rss": peak,
        # CPU of the top process alone (the reactor), last sample before it exited
        "own_cpu": own_cpu,
        "max_process_rss": largest,
    }


def run_newscrawl(variant: str, sitemap: str, work: Path) -> dict[str, float]:
    out = work / f"{variant}.jsonl"
    command = [sys.executable, "-m", "scrapy", "crawl", "sitemap", "-a", f"sitemap={sitemap}"]
    settings = {
        **SCRAPY_SETTINGS,
        "NEWSCRAWL_EXTRACT_WORKERS": WORKERS[variant],
        "FEEDS": json.dumps({str(out): {"format": "jsonl", "overwrite": True}}),
    }
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    log = work / f"{variant}.log"
    result = measure(command, log)
    result["records"] = sum(1 for _ in out.open(encoding="utf-8")) if out.exists() else 0
    elapsed = re.search(r"'elapsed_time_seconds': ([0-9.]+)", log.read_text(encoding="utf-8"))
    if elapsed:  # spider open -> close: the crawl without interpreter and Scrapy start-up
        result["crawl_s"] = float(elapsed.group(1))
    return result


def alias_sitemap(site: Path, base_url: str) -> str:
    """A second sitemap naming the pages under ALIAS_HOST (see the module docstring)."""
    alias_base = base_url.replace("127.0.0.1", ALIAS_HOST)
    text = (site / "sitemap.xml").read_text(encoding="utf-8").replace("{{BASE}}", alias_base)
    (site / "sitemap-alias.xml").write_text(text, encoding="utf-8")
    return f"{alias_base}/sitemap-alias.xml"


def run_trafilatura(sitemap: str, work: Path) -> dict[str, float]:
    """trafilatura's crawler in its two documented steps: sitemap -> URL list -> extraction.

    `trafilatura --sitemap URL --json` in one step re-downloads the sitemap itself forever on
    this site (trafilatura 2.3.1: the sitemap URL never leaves its URL store when the host
    has a port), so the list and the extraction run as two commands, timed together.
    """
    config = work / "trafilatura.cfg"
    config.write_text(TRAFILATURA_CONFIG, encoding="utf-8")
    shim = work / "hosts-shim"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(HOSTS_SHIM, encoding="utf-8")
    trafilatura = str(Path(sys.executable).parent / "trafilatura")
    urls, out = work / "trafilatura-urls.txt", work / "trafilatura.json"
    listing = measure(
        [trafilatura, "--sitemap", sitemap, "--list", "--config-file", str(config)],
        work / "trafilatura-list.log",
        stdout=urls,
        pythonpath=str(shim),
    )
    command = [trafilatura, "-i", str(urls), "--json", "--with-metadata"]
    command += ["--config-file", str(config)]
    result = measure(command, work / "trafilatura.log", stdout=out, pythonpath=str(shim))
    for key in ("wall", "cpu", "idle"):
        result[key] += listing[key]
    result["peak_rss"] = max(result["peak_rss"], listing["peak_rss"])
    result["records"] = sum(1 for line in out.open(encoding="utf-8") if line.startswith("{"))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="pages in the generated site")
    parser.add_argument("--runs", type=int, default=3, help="rounds over the variants")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated: {','.join(VARIANTS)}"
    )
    parser.add_argument(
        "--models",
        type=Path,
        help="build the site from the saved pages (.html, .html.gz) in this directory "
        "instead of the demo fixture pages, e.g. "
        "../shared/datasets/article-extraction-benchmark/html",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    work = Path(tempfile.mkdtemp(prefix="newscrawl-bench-"))
    build_site(work / "site", args.pages, args.models)
    server, base = start_server(work / "site")
    sitemap = f"{base}/sitemap.xml"
    peer_sitemap = alias_sitemap(work / "site", base)
    cpus = len(os.sched_getaffinity(0))
    print(f"{args.pages} pages at {sitemap}; {cpus} CPUs; load {os.getloadavg()[0]:.2f}")
    results: dict[str, list[dict[str, float]]] = defaultdict(list)
    try:
        for round_number in range(args.runs):
            for variant in variants:
                server_cpu = process_cpu(server.pid)
                if variant == "trafilatura":
                    result = run_trafilatura(peer_sitemap, work)
                else:
                    result = run_newscrawl(variant, sitemap, work)
                result["server_cpu"] = process_cpu(server.pid) - server_cpu
                result["pages_s"] = args.pages / result["wall"]
                results[variant].append(result)
                print(
                    f"  round {round_number + 1} {variant:<11} {result['pages_s']:7.1f} pages/s "
                    f"cpu {result['cpu'] / result['wall']:.2f} cores "
                    f"(machine idle {result['idle'] / result['wall']:.2f}) "
                    f"peak {result['peak_rss'] / 2**20:6.0f} MiB "
                    f"records {result['records']:.0f} "
                    f"top process {result['own_cpu'] / args.pages * 1000:.1f} ms/page "
                    f"server {result['server_cpu'] / args.pages * 1000:.1f} ms/page",
                    file=sys.stderr,
                )
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait()
    print(
        f"\n{'variant':<12} {'pages/s':>8} {'records':>8} {'cpu cores':>10} {'cpu %':>6} "
        f"{'peak RSS tree':>14} {'largest proc':>13} {'top process CPU':>16} {'idle':>6}"
    )
    for variant in variants:
        runs = results[variant]

        def med(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        cores = statistics.median(r["cpu"] / r["wall"] for r in runs)
        print(
            f"{variant:<12} {med('pages_s'):8.1f} {med('records'):8.0f} {cores:10.2f} "
            f"{cores / cpus:6.0%} {med('peak_rss') / 2**20:10.0f} MiB "
            f"{med('max_process_rss') / 2**20:9.0f} MiB "
            f"{med('own_cpu') / args.pages * 1000:10.1f} ms/page "
            f"{statistics.median(r['idle'] / r['wall'] for r in runs):6.2f}"
        )
    print()
    for base_variant in ("inline", "1worker", "trafilatura"):
        if "pool" in results and base_variant in results:
            ratios = [
                pool["pages_s"] / other["pages_s"]
                for pool, other in zip(results["pool"], results[base_variant], strict=True)
            ]
            print(f"pool / {base_variant:<12} {statistics.median(ratios):5.2f}x pages/s")
    for base_variant in ("inline", "1worker"):
        if "pool" in results and base_variant in results:
            ratios = [
                other["crawl_s"] / pool["crawl_s"]
                for pool, other in zip(results["pool"], results[base_variant], strict=True)
            ]
            print(
                f"pool / {base_variant:<12} {statistics.median(ratios):5.2f}x pages/s "
                "from spider open to close (Scrapy's elapsed_time_seconds, start-up excluded)"
            )
    if args.keep:
        print(f"work directory: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
