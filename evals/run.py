"""`assistant eval`: ask every question, score the answers, and write a dated report.

Two ways in:
- no --qa: every set in evals/sets.py, each on its own corpus, split into dev and test halves,
  one table, floors checked on the test halves;
- --qa FILE: one Q&A file against the configured corpus, the report a deployer reads.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from evals.qa import SPLITS, QAFormatError, QAItem, load_qa, split_of
from evals.scoring import (
    ItemResult,
    answer_words,
    citation_supported,
    engine,
    facts_covered,
    first_relevant_rank,
    summarise,
)

HERE = Path(__file__).resolve().parent
BLOCKS = ("retrieval", "answers", "declines", "latency_ms")
CEILINGS = ("declines.false_decline_rate",)  # lower is better
# The one table: (header, block, key); the peer's columns follow when it ran.
COLUMNS = (
    ("fact_recall", "answers", "fact_recall"),
    ("all_facts", "answers", "all_facts"),
    ("citation_precision", "answers", "citation_precision"),
    ("false_decline_rate", "declines", "false_decline_rate"),
    ("decline_recall", "declines", "decline_recall"),
    ("recall@5", "retrieval", "recall@5"),
    ("p95_ms", "latency_ms", "p95"),
)
PEER_COLUMNS = (
    ("peer fact_recall", "answers", "fact_recall"),
    ("peer citation_precision", "answers", "citation_precision"),
    ("peer decline_recall", "declines", "decline_recall"),
)


@dataclass
class Run:
    """One Q&A file asked of one assistant (and, with --baseline, of the naive peer)."""

    items: list[QAItem]
    config: dict
    results: list[ItemResult] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    peer_results: list[ItemResult] | None = None
    peer_rows: list[dict] = field(default_factory=list)

    def summary(self, split: str | None = None) -> dict:
        """Today's summary shape, over every question or over one split."""
        keep = [split is None or split_of(i.id) == split for i in self.items]
        items = [i for i, k in zip(self.items, keep) if k]
        results = [r for r, k in zip(self.results, keep) if k]
        out = summarise(results) | {"by_topic": by_topic(items, results)}
        if self.config.get("llm_provider"):  # a language model wrote answers: which engine, at what cost
            out["engine"] = engine(results)
        if self.peer_results is not None:
            peer = [r for r, k in zip(self.peer_results, keep) if k]
            out["baseline"] = summarise(peer) | {"by_topic": by_topic(items, peer)}
            out["ratios"] = ratios(out, out["baseline"])
        return out


def main(
    qa: str | None,
    out: str | None,
    baseline: bool,
    thresholds: str | None,
    sets: list[str] | None = None,
) -> int:
    if qa is not None:
        if sets:
            print("Error: --set runs the shipped sets; it cannot be combined with --qa.", file=sys.stderr)
            return 2
        return run_file(Path(qa), out, baseline, thresholds)
    return run_sets(sets, out, baseline, thresholds)


def run_file(qa_path: Path, out: str | None, baseline: bool, thresholds: str | None) -> int:
    """One Q&A file against the configured corpus (ASSISTANT_CORPUS_DIR): a deployer's own questions."""
    from assistant.service import Service

    try:
        items = load_qa(qa_path)
        floors = _read_floors(thresholds, per_set=False) if thresholds else None
    except (QAFormatError, OSError, ValueError) as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    service = Service()
    service.ensure_index()
    run = evaluate(service, items, baseline, {"qa": str(qa_path)})
    summary = run.summary()
    folder = _folder(out)
    write_run(run, summary, folder)
    print(table(summary))
    if "engine" in summary:
        print(engine_line(summary["engine"]))
    print(f"\nReport: {folder / 'report.md'}")
    if floors is not None:
        failures = below_floors(summary, floors)
        for line in failures:
            print(f"BELOW FLOOR: {line}", file=sys.stderr)
        return 1 if failures else 0
    return 0


def run_sets(names: list[str] | None, out: str | None, baseline: bool, thresholds: str | None) -> int:
    """Every set (or those named), each on its own corpus and index; one table of dev and test."""
    from assistant.service import Service
    from assistant.settings import Settings
    from evals.sets import by_name

    try:
        chosen = by_name(names)
        floors = _read_floors(thresholds, per_set=True) if thresholds else None
        loaded = []
        for s in chosen:
            if not s.qa.is_file():
                print(f"Note: set '{s.name}' skipped: {s.qa} does not exist.", file=sys.stderr)
                continue
            try:
                loaded.append((s, load_qa(s.qa)))
            except QAFormatError as err:
                raise QAFormatError(f"set '{s.name}': {err}") from None
    except (QAFormatError, OSError, ValueError) as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    if not loaded:
        print("Error: none of the chosen sets has a Q&A file.", file=sys.stderr)
        return 2

    base = Settings()
    folder = _folder(out)
    summaries: dict[str, dict] = {}
    configs: dict[str, dict] = {}
    for s, items in loaded:
        service = Service(Settings(corpus_dir=s.corpus, data_dir=base.data_dir / "eval" / s.name))
        print(f"Set '{s.name}': {len(items)} questions on {s.corpus}", file=sys.stderr)
        service.ingest()  # only what changed since the last run of this set is embedded
        run = evaluate(service, items, baseline, {"set": s.name, "qa": str(s.qa)})
        split_summaries = {split: run.summary(split) for split in SPLITS}
        summaries[s.name] = split_summaries | {"all": run.summary()}
        configs[s.name] = run.config
        write_run(run, summaries[s.name]["all"], folder / s.name, summaries[s.name])

    (folder / "summary.json").write_text(json.dumps(summaries, indent=2), encoding="utf-8")
    (folder / "report.md").write_text(sets_report(summaries, configs), encoding="utf-8")
    print(sets_table(summaries))
    for name, by_split in summaries.items():
        if "engine" in by_split["all"]:
            print(f"{name}: {engine_line(by_split['all']['engine'])}")
    print(f"\nEmbedder: {next(iter(configs.values()))['embedder_name']}")
    print(f"Report: {folder / 'report.md'}")
    if floors is None:
        return 0
    failures, notes = check_floors(summaries, floors)
    for line in notes:
        print(f"Note: {line}", file=sys.stderr)
    for line in failures:
        print(f"BELOW FLOOR: {line}", file=sys.stderr)
    return 1 if failures else 0


def _reader(service) -> str | None:
    """ "<name>@<sha256 prefix>" when the reader answered, None when the base model (or hashing) did."""
    from assistant.corpus.reader_files import is_reader

    name = service.embedder.name
    return name if is_reader(name) else None


def evaluate(service, items: list[QAItem], baseline: bool, config: dict) -> Run:
    from assistant.answering.answer import Turn

    retriever = service.deps().retriever
    run = Run(
        items,
        service.settings.model_dump(mode="json")
        | {"embedder_name": service.embedder.name, "reader": _reader(service)}
        | config,
    )
    for item in items:
        history: list[Turn] = []
        for earlier in item.history:  # asked first, in one conversation; only the last is scored
            reply = service.ask(earlier, history)
            history += [Turn("user", earlier), Turn("assistant", reply.text)]
        answer = service.ask(item.question, history)
        passages = [retriever.by_id[i].text for i in answer.retrieved_ids if i in retriever.by_id]
        result = score(
            item,
            answer.text,
            passages,
            [c.quote for c in answer.citations],
            answer.declined,
            answer.timings_ms and sum(answer.timings_ms.values()),
        )
        result.hedged = not answer.declined and not answer.confident
        report = answer.model_report or {}
        result.extra = {
            "answered_by": answer.answered_by,
            "model_outcome": report.get("outcome", ""),
            "model_ms": round(answer.timings_ms.get("write_with_model", 0.0), 2),
            "input_tokens": report.get("input_tokens", 0),
            "output_tokens": report.get("output_tokens", 0),
            "dropped": report.get("dropped", {}),
        }
        run.results.append(result)
        run.rows.append(
            {
                **asdict(result),
                "split": split_of(item.id),
                "question": item.question,
                "answer": answer.text,
                "status": answer.status.value,
                "answered_by": answer.answered_by,
                "citations": [{"n": c.n, "section": c.section, "url": c.url} for c in answer.citations],
                "retrieved_ids": answer.retrieved_ids,
                "signals": getattr(answer, "signals", None),  # what a decision model is fitted from
            }
        )
    if baseline:
        from evals.baseline import NaivePeer

        peer = NaivePeer(service.settings.corpus_dir, service.settings.max_answer_words)
        run.peer_results = []
        for item in items:
            a = peer.ask(item.question, item.history)
            r = score(item, a.text, a.passages, a.citations, a.declined, a.latency_ms)
            run.peer_results.append(r)
            run.peer_rows.append({**asdict(r), "split": split_of(item.id), "question": item.question, "answer": a.text})
    return run


def write_run(run: Run, summary: dict, folder: Path, splits: dict | None = None) -> None:
    """results.jsonl, baseline_results.jsonl, summary.json, config.json, report.md and the chart."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_jsonl(folder / "results.jsonl", run.rows)
    if run.peer_rows:
        _write_jsonl(folder / "baseline_results.jsonl", run.peer_rows)
    (folder / "summary.json").write_text(json.dumps(splits or summary, indent=2), encoding="utf-8")
    (folder / "config.json").write_text(json.dumps(run.config, indent=2), encoding="utf-8")
    chart = write_chart(summary, folder)
    (folder / "report.md").write_text(report(summary, run.rows, run.items, run.config, chart, splits), encoding="utf-8")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=_plain) + "\n")


def _plain(value):
    """Numpy numbers and other odd values in the signals, as JSON can hold them."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _folder(out: str | None) -> Path:
    return Path(out) if out else HERE / "runs" / datetime.now().strftime("%Y-%m-%d_%H%M%S")


def score(
    item: QAItem, text: str, passages: list[str], quotes: list[str], declined: bool, latency: float
) -> ItemResult:
    covered, _ = facts_covered(text, item.facts) if not declined else ([], list(range(len(item.facts))))
    supported = sum(1 for q in quotes if citation_supported(q, item.sources, item.facts)) if not declined else 0
    return ItemResult(
        id=item.id,
        topic=item.topic,
        answerable=item.answerable,
        declined=declined,
        rank=first_relevant_rank(passages, item.sources) if item.answerable else None,
        facts_total=len(item.facts),
        facts_hit=len(covered),
        citations_total=len(quotes) if not declined else 0,
        citations_supported=supported,
        words=answer_words(text) if not declined else 0,
        latency_ms=round(latency or 0.0, 3),
    )


def by_topic(items: list[QAItem], results: list[ItemResult]) -> dict:
    topics = sorted({i.topic for i in items})
    out = {}
    for topic in topics:
        s = summarise([r for r in results if r.topic == topic])
        out[topic] = {k: s[k] for k in BLOCKS}
    return out


def ratios(ours: dict, peer: dict) -> dict:
    out = {}
    for block in ("retrieval", "answers", "declines"):
        for key, value in ours[block].items():
            other = peer[block][key]
            if isinstance(value, (int, float)) and isinstance(other, (int, float)) and other:
                out[f"{block}.{key}"] = round(value / other, 3)
    return out


def _read_floors(path: str, per_set: bool) -> dict:
    """The thresholds file: {set: {metric: floor}} for the sets, {metric: floor} with --qa."""
    floors = json.loads(Path(path).read_text(encoding="utf-8"))
    nested = isinstance(floors, dict) and all(isinstance(v, dict) for v in floors.values())
    flat = isinstance(floors, dict) and all(isinstance(v, (int, float)) for v in floors.values())
    if per_set and not nested:
        raise ValueError(f"{path}: expected floors per set, {{set: {{metric: floor}}}}")
    if not per_set and not flat:
        raise ValueError(f"{path}: with --qa, expected one set of floors, {{metric: floor}}")
    return floors


def below_floors(summary: dict, floors: dict) -> list[str]:
    failures = []
    for dotted, floor in floors.items():
        block, key = dotted.split(".", 1)
        value = summary[block][key]
        ceiling = dotted in CEILINGS
        if value is None or (value > floor if ceiling else value < floor):
            failures.append(f"{dotted} = {value} ({'ceiling' if ceiling else 'floor'} {floor})")
    return failures


def check_floors(summaries: dict, floors: dict) -> tuple[list[str], list[str]]:
    """Each set's floors against its TEST half: the failures, and notes on floors not checked."""
    failures, notes = [], []
    for name, set_floors in floors.items():
        if name not in summaries:
            notes.append(f"floors for '{name}' not checked: the set did not run")
            continue
        failures += [f"{name}.{line}" for line in below_floors(summaries[name]["test"], set_floors)]
    notes += [f"set '{name}' has no floors" for name in summaries if name not in floors]
    return failures, notes


def engine_line(e: dict) -> str:
    return (
        f"answered by the model {e['answered_by']['llm']}, quoted {e['answered_by']['extractive']}; "
        f"model stage p50 {e['model_stage_ms']['p50']} ms, p95 {e['model_stage_ms']['p95']} ms; "
        f"tokens per call {e['tokens_per_call']['input']} in, {e['tokens_per_call']['output']} out; "
        f"outcomes {e['model_outcomes']}"
    )


def _metrics(summary: dict) -> list[tuple[str, object]]:
    return [(f"{b}.{k}", v) for b in BLOCKS for k, v in summary[b].items()]


def table(summary: dict) -> str:
    peer = summary.get("baseline")
    lines = [f"{'metric':34} {'assistant':>10}" + (f" {'naive peer':>11}" if peer else "")]
    for name, value in _metrics(summary):
        row = f"{name:34} {str(value):>10}"
        if peer:
            block, key = name.split(".", 1)
            row += f" {str(peer[block][key]):>11}"
        lines.append(row)
    return "\n".join(lines)


def _table_rows(summaries: dict) -> tuple[list[str], list[list[str]]]:
    """The one table's header and rows: a row per set and split, the peer beside when it ran."""
    with_peer = any("baseline" in s["all"] for s in summaries.values())
    columns = COLUMNS + (PEER_COLUMNS if with_peer else ())
    header = ["set", "split", "n"] + [c[0] for c in columns]
    rows = []
    for name, by_split in summaries.items():
        for split in SPLITS:
            s = by_split[split]
            cells = [name, split, str(s["questions"])]
            for title, block, key in columns:
                value = (s.get("baseline", {}) if title.startswith("peer ") else s).get(block, {}).get(key)
                cells.append("-" if value is None else f"{value:.1f}" if block == "latency_ms" else f"{value:.3f}")
            rows.append(cells)
    return header, rows


def sets_table(summaries: dict) -> str:
    header, rows = _table_rows(summaries)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(header), *map(line, rows)])


def _markdown_table(summaries: dict) -> list[str]:
    header, rows = _table_rows(summaries)
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def sets_report(summaries: dict, configs: dict) -> str:
    embedders = sorted({c["embedder_name"] for c in configs.values()})
    out = [
        "# Evaluation report",
        "",
        f"Sets: {', '.join(summaries)}. Embedder: `{', '.join(embedders)}`. "
        "Each set runs on its own corpus; the split is fixed by each question's id (evals/qa.py). "
        "Tune on dev; judge on test. Floors are checked on test. Each set's folder has its full report.",
        "",
        *_markdown_table(summaries),
        "",
        "## Config",
    ]
    for name, config in configs.items():
        out += ["", f"### {name}", "", "```json", json.dumps(config, indent=2), "```"]
    return "\n".join(out) + "\n"


def write_chart(summary: dict, folder: Path) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    topics = [t for t, s in summary["by_topic"].items() if s["answers"]["fact_recall"] is not None]
    ours = [summary["by_topic"][t]["answers"]["fact_recall"] for t in topics]
    fig, ax = plt.subplots(figsize=(8, 4))
    x = range(len(topics))
    ax.bar([i - 0.2 for i in x], ours, width=0.4, label="assistant")
    if "baseline" in summary:
        peer = [summary["baseline"]["by_topic"][t]["answers"]["fact_recall"] or 0 for t in topics]
        ax.bar([i + 0.2 for i in x], peer, width=0.4, label="naive peer")
    ax.set_xticks(list(x), topics, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("fact recall")
    ax.set_title("Fact recall by topic")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "fact_recall_by_topic.png", dpi=100)
    plt.close(fig)
    return "fact_recall_by_topic.png"


def report(
    summary: dict,
    rows: list[dict],
    items: list[QAItem],
    config: dict,
    chart: str | None,
    splits: dict | None = None,
) -> str:
    peer = summary.get("baseline")
    out = [
        "# Evaluation report" + (f": {config['set']}" if "set" in config else ""),
        "",
        f"Q&A file: `{config['qa']}` ({summary['questions']} questions, "
        f"{summary['answerable']} answerable). Corpus: `{config['corpus_dir']}`. "
        f"Embedder: `{config['embedder_name']}`.",
        "",
    ]
    if splits:
        out += ["## Dev and test", "", *_markdown_table({config.get("set", "qa"): splits}), ""]
    out += [
        "## Overall",
        "",
        "| metric | assistant |" + (" naive peer |" if peer else ""),
        "|---|---|" + ("---|" if peer else ""),
    ]
    for name, value in _metrics(summary):
        block, key = name.split(".", 1)
        out.append(f"| {name} | {value} |" + (f" {peer[block][key]} |" if peer else ""))
    out += [
        "",
        "## By topic",
        "",
        "| topic | recall@5 | fact_recall | all_facts | decline_recall | false_decline_rate |"
        + (" peer fact_recall |" if peer else ""),
        "|---|---|---|---|---|---|" + ("---|" if peer else ""),
    ]
    for topic, s in summary["by_topic"].items():
        row = (
            f"| {topic} | {s['retrieval']['recall@5']} | {s['answers']['fact_recall']} | {s['answers']['all_facts']} | "
            f"{s['declines']['decline_recall']} | {s['declines']['false_decline_rate']} |"
        )
        if peer:
            row += f" {peer['by_topic'][topic]['answers']['fact_recall']} |"
        out.append(row)
    if chart:
        out += ["", f"![Fact recall by topic]({chart})"]
    if "engine" in summary:
        e = summary["engine"]
        out += [
            "",
            "## Engines",
            "",
            f"Language model: `{config.get('llm_provider')}:{config.get('llm_model')}`. {engine_line(e)}.",
            f"Sentences dropped by the checks: {e['sentences_dropped'] or 'none'}.",
        ]
    out += ["", "## Failed questions", ""]
    by_id = {i.id: i for i in items}
    for row in rows:
        item = by_id[row["id"]]
        problems = []
        if item.answerable and row["declined"]:
            problems.append("wrongly declined")
        elif item.answerable and row["facts_hit"] < row["facts_total"]:
            missing = [
                " / ".join(item.facts[i])
                for i in range(len(item.facts))
                if i not in facts_covered(row["answer"], item.facts)[0]
            ]
            problems.append("missing: " + "; ".join(missing))
        if not item.answerable and not row["declined"]:
            problems.append("should have declined")
        if item.answerable and row["rank"] is None:
            problems.append("no relevant passage retrieved")
        if problems:
            asked = " / ".join(item.history + [item.question])
            answer = row["answer"].replace("\n", " ")[:300]
            split = f", {row['split']}" if "split" in row else ""
            out.append(f"- **{item.id}** ({item.topic}{split}) _{asked}_: {', '.join(problems)}. Answer: {answer}")
    out += ["", "## Config", "", "```json", json.dumps(config, indent=2), "```", ""]
    return "\n".join(out)
