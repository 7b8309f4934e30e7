"""The `assistant` command: ingest, ask, serve, eval."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from assistant.answer import Turn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="assistant", description="Clinks guidance assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ingest", help="index the corpus folder (only what changed)")
    ask = sub.add_parser("ask", help="ask one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--history", action="append", default=[], help="an earlier question (repeat, oldest first)")
    sub.add_parser("serve", help="serve the web chat")
    ev = sub.add_parser("eval", help="run the evaluation")
    ev.add_argument("--qa", default=None, help="Q&A file (JSON Lines); default evals/qa.jsonl")
    ev.add_argument("--out", default=None, help="folder for the report; default evals/runs/")
    ev.add_argument("--baseline", action="store_true", help="also run the naive peer")
    ev.add_argument("--thresholds", default=None, help="fail when a metric is below these floors")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("assistant").setLevel(logging.INFO)

    from assistant.index import IndexError_
    from assistant.service import Service

    try:
        if args.command == "ingest":
            return _ingest(Service())
        if args.command == "ask":
            return _ask(Service(), args)
        if args.command == "serve":
            from assistant.web import serve

            return serve()
        if args.command == "eval":
            from evals.run import main as eval_main

            return eval_main(args.qa, args.out, args.baseline, args.thresholds)
    except IndexError_ as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    return 0


def _ingest(service) -> int:
    def progress(done: int, total: int) -> None:
        print(f"\rEmbedding chunks: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    print(f"Embedder: {service.embedder.name}", file=sys.stderr)
    summary = service.ingest(progress)
    for line in summary.lines():
        print(line)
    return 0


def _ask(service, args) -> int:
    service.ensure_index()
    history = [Turn("user", q) for q in args.history]
    answer = service.ask(args.question, history)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
        return 0
    print(answer.text)
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            print(f"[{c.n}] {c.title}, {c.section}\n    {c.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
