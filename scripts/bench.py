"""Benchmark: ingest speed, re-index of one changed document, start-up, warm answer latency
(p50/p95), throughput and memory, at 1x and 100x the corpus, with the configured embedder.

Run with `make bench` (both scales) or `python scripts/bench.py --scales 1`. Not a test: the numbers
depend on the machine. The 100x corpus is generated: 100 copies of the corpus whose every sentence
is made distinct (a copy number woven into each sentence), so nothing can be reused between copies
and every sentence must really be embedded. Serving is measured in a fresh process that only loads
the index and answers, as `assistant serve` does.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from questions import QUESTIONS  # noqa: E402  (scripts/ is on the path when run as a script)

ROUNDS = 10  # 100 warm answers per scale

_LIST_ITEM = re.compile(r"^(\s*(?:[-*]|\d+\.) .*?[^.:\s])\s*$", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)])\.(\s)")


def make_corpus(folder: Path, scale: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("glossary.yaml", "assistant.yaml"):
        if (ROOT / "corpus" / name).is_file():
            (folder / name).write_text((ROOT / "corpus" / name).read_text(encoding="utf-8"), encoding="utf-8")
    source = (ROOT / "corpus" / "probation-services.md").read_text(encoding="utf-8")
    if scale == 1:
        (folder / "probation-services.md").write_text(source, encoding="utf-8")
        return folder
    head, body = source.split("\n---\n", 1)
    for copy in range(scale):
        # Every sentence gets this copy's number, so no sentence of one copy equals another's.
        distinct = _SENTENCE_END.sub(lambda m, c=copy: f" in region {c + 1}.{m.group(1)}", body)
        distinct = _LIST_ITEM.sub(lambda m, c=copy: f"{m.group(1)} (region {c + 1})", distinct)
        front = head.replace("title: Probation services", f"title: Probation services, region {copy + 1}")
        front = front.replace("probation-services\n", f"probation-services-{copy + 1}\n")
        (folder / f"guidance-{copy + 1:03d}.md").write_text(f"{front}\n---\n{distinct}", encoding="utf-8")
    return folder


SERVE = r"""
import json, resource, statistics, sys, time
started = time.perf_counter()
from assistant.service import Service
from assistant.settings import Settings
service = Service(Settings(corpus_dir=sys.argv[1], data_dir=sys.argv[2]))
questions = json.loads(sys.argv[3])
first = service.ask(questions[0])
first_s = time.perf_counter() - started
times = []
t0 = time.perf_counter()
for _ in range(int(sys.argv[4])):
    for q in questions:
        t = time.perf_counter()
        service.ask(q)
        times.append((time.perf_counter() - t) * 1000)
wall = time.perf_counter() - t0
times.sort()
print(json.dumps({
    "embedder": service.embedder.name, "first_answer_s": first_s,
    "p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * len(times)) - 1],
    "answers_per_s": len(times) / wall, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


INGEST = r"""
import json, resource, sys, time
from pathlib import Path
from assistant.service import Service
from assistant.settings import Settings
corpus, data = Path(sys.argv[1]), Path(sys.argv[2])
service = Service(Settings(corpus_dir=corpus, data_dir=data))
t = time.perf_counter(); cold = service.ingest(); cold_s = time.perf_counter() - t
t = time.perf_counter(); again = service.ingest(); again_s = time.perf_counter() - t
# One document changed: a sentence edited and one added.
doc = sorted(corpus.glob("*.md"))[0]
text = doc.read_text(encoding="utf-8").replace("There is no cost to qualify", "There is still no cost to qualify")
doc.write_text(text + "\n\nA new sentence was added to this document today.\n", encoding="utf-8")
t = time.perf_counter(); changed = service.ingest(); changed_s = time.perf_counter() - t
print(json.dumps({
    "documents": cold.documents, "chunks": cold.chunks, "sentences": cold.units_embedded,
    "ingest_cold_s": cold_s, "texts_per_s": (cold.added + cold.units_embedded) / cold_s,
    "ingest_unchanged_s": again_s, "embedded_when_unchanged": again.added + again.units_embedded,
    "reindex_one_changed_doc_s": changed_s, "embedded_for_change": changed.added + changed.units_embedded,
    "ingest_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def _run(script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(scale: int) -> dict:
    """Ingest as `assistant ingest` does, then serve from a fresh process as `assistant serve` does."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = make_corpus(Path(tmp) / "corpus", scale)
        data = Path(tmp) / "data"
        ingest = _run(INGEST, str(corpus), str(data))
        serving = _run(SERVE, str(corpus), str(data), json.dumps(QUESTIONS), str(ROUNDS))
    return {"scale": scale} | ingest | serving


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="1,100", help="comma-separated corpus multiples")
    args = parser.parse_args()
    rows = [bench(int(s)) for s in args.scales.split(",")]
    print(f"embedder: {rows[0]['embedder']}")
    print("| | " + " | ".join(f"{r['scale']}x" for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    lines = [
        ("documents / chunks / sentences", lambda r: f"{r['documents']} / {r['chunks']} / {r['sentences']}"),
        ("ingest, cold", lambda r: f"{r['ingest_cold_s']:.1f} s ({r['texts_per_s']:.0f} texts/s)"),
        (
            "ingest, nothing changed",
            lambda r: f"{r['ingest_unchanged_s']:.2f} s, {r['embedded_when_unchanged']} embedded",
        ),
        (
            "one document changed",
            lambda r: f"{r['reindex_one_changed_doc_s']:.2f} s, {r['embedded_for_change']} embedded",
        ),
        ("first answer after start", lambda r: f"{r['first_answer_s']:.2f} s"),
        ("warm answer p50 / p95", lambda r: f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms"),
        ("throughput (one thread)", lambda r: f"{r['answers_per_s']:.0f} answers/s"),
        ("serving peak RSS", lambda r: f"{r['rss_mb']:.0f} MB"),
        ("ingest peak RSS", lambda r: f"{r['ingest_rss_mb']:.0f} MB"),
    ]
    for name, cell in lines:
        print(f"| {name} | " + " | ".join(cell(r) for r in rows) + " |")


if __name__ == "__main__":
    main()
