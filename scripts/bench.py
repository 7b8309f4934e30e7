"""Benchmark: ingest time, warm answer latency (p50/p95) and memory, with the configured embedder.

Run with `make bench`. Not a test: numbers depend on the machine.
"""

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUESTIONS = [
    "Does it cost anything to qualify onto the Dynamic Framework?",
    "what is market warming",
    "what does CE+ mean",
    "how do I register for the grants portal",
    "what is IASME Gold",
    "how many service categories are there",
    "What is the capital of France?",
    "How much does Cyber Essentials Plus cost?",
    "who is the RPD",
    "what do i need to submit an ITT",
]


def main() -> None:
    started = time.perf_counter()
    from assistant.service import Service
    from assistant.settings import Settings

    import_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Settings(data_dir=Path(tmp)))
        t = time.perf_counter()
        summary = service.ingest()
        cold_ingest = time.perf_counter() - t
        t = time.perf_counter()
        service.ingest()
        warm_ingest = time.perf_counter() - t
        t = time.perf_counter()
        service.ask(QUESTIONS[0])
        first = time.perf_counter() - t
        times = []
        for _ in range(20):
            for q in QUESTIONS:
                t = time.perf_counter()
                service.ask(q)
                times.append((time.perf_counter() - t) * 1000)
    times.sort()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"embedder                 {service.embedder.name}")
    print(f"import                   {import_s:.2f} s")
    print(f"ingest (cold, {summary.chunks} chunks)  {cold_ingest:.2f} s;  again (nothing changed) {warm_ingest:.2f} s")
    print(f"first answer             {first * 1000:.0f} ms (loads the index)")
    print(
        f"warm answer ({len(times)} asks)   p50 {statistics.median(times):.1f} ms   p95 {times[int(0.95 * len(times)) - 1]:.1f} ms"
    )
    print(f"peak memory (RSS)        {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
