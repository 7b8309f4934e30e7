"""Benchmark: syncing web sources from a local site of N pages (tests/web_site.py's furniture around
distinct text), on 127.0.0.1: the first sync (every page fetched, extracted and indexed), a second
with nothing changed (every page a 304 and no ingest), and a third with one page changed.

    python scripts/sync_bench.py --pages 100

Not a test: the numbers depend on the machine. The delay between requests is 0 here (a local
site); against a real site it is ASSISTANT_WEB_DELAY_SECONDS (1 s) per request, by design.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.web_site import Site, page, urlset  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=100)
    args = parser.parse_args()
    from assistant.service import Service
    from assistant.settings import Settings

    with Site() as site, tempfile.TemporaryDirectory() as folder:
        urls = []
        for i in range(args.pages):
            path = f"/guidance/topic-{i}"
            site.html(
                path, page(f"Topic {i}", f"<p>Organisations in area {i} must report to panel {i * 7} each quarter.</p>")
            )
            urls.append(site.base + path)
        site.pages["/sitemap.xml"] = ("application/xml", urlset(urls), {})
        corpus = Path(folder) / "corpus"
        corpus.mkdir()
        (corpus / "assistant.yaml").write_text(f"sources:\n  - url: {site.base}/sitemap.xml\n", encoding="utf-8")
        settings = Settings(data_dir=Path(folder) / "data", corpus_dir=corpus, web_delay_seconds=0)
        service = Service(settings)
        from assistant.sources.sync import run

        results = {}
        for label in ("first sync", "nothing changed", "one page changed"):
            if label == "one page changed":
                site.html("/guidance/topic-3", page("Topic 3", "<p>Organisations in area 3 now report monthly.</p>"))
            before = len(site.requests)
            started = time.perf_counter()
            report = run(service)
            seconds = time.perf_counter() - started
            counts = report.counts()
            not_modified = sum(1 for r in site.requests[before:] if r["if_none_match"])
            results[label] = {
                "seconds": round(seconds, 2),
                "requests": len(site.requests) - before,
                "conditional_requests": not_modified,
                "indexed": bool(report.ingest),
                **{k: v for k, v in counts.items() if v},
            }
            print(f"{label:>18}: {seconds:6.2f} s  {json.dumps(results[label])}")
        answer_started = time.perf_counter()
        answer = service.ask("how often do organisations in area 3 report?")
        print(f"answer after the change ({(time.perf_counter() - answer_started) * 1000:.0f} ms): {answer.text[:100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
