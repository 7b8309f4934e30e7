"""`assistant eval`: ask every question, score the answers, and write a dated report."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from evals.qa import QAFormatError, QAItem, load_qa
from evals.scoring import (
    ItemResult,
    answer_words,
    citation_supported,
    facts_covered,
    first_relevant_rank,
    summarise,
)

HERE = Path(__file__).resolve().parent
BLOCKS = ("retrieval", "answers", "declines", "latency_ms")


def main(qa: str | None, out: str | None, baseline: bool, thresholds: str | None) -> int:
    from assistant.answer import Turn
    from assistant.service import Service

    qa_path = Path(qa) if qa else HERE / "qa.jsonl"
    try:
        items = load_qa(qa_path)
    except (QAFormatError, OSError) as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    service = Service()
    service.ensure_index()
    retriever = service.deps().retriever
    config = service.settings.model_dump(mode="json") | {"embedder_name": service.embedder.name, "qa": str(qa_path)}

    rows, results = [], []
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
        results.append(result)
        rows.append(
            {
                **asdict(result),
                "question": item.question,
                "answer": answer.text,
                "status": answer.status.value,
                "citations": [{"n": c.n, "section": c.section, "url": c.url} for c in answer.citations],
                "retrieved_ids": answer.retrieved_ids,
            }
        )

    summary = summarise(results) | {"by_topic": by_topic(items, results)}
    peer_rows = []
    if baseline:
        from evals.baseline import NaivePeer

        peer = NaivePeer(service.settings.corpus_dir, service.settings.max_answer_words)
        peer_results = []
        for item in items:
            a = peer.ask(item.question, item.history)
            r = score(item, a.text, a.passages, a.citations, a.declined, a.latency_ms)
            peer_results.append(r)
            peer_rows.append({**asdict(r), "question": item.question, "answer": a.text})
        summary["baseline"] = summarise(peer_results) | {"by_topic": by_topic(items, peer_results)}
        summary["ratios"] = ratios(summary, summary["baseline"])

    folder = Path(out) if out else HERE / "runs" / datetime.now().strftime("%Y-%m-%d_%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "results.jsonl").open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if peer_rows:
        with (folder / "baseline_results.jsonl").open("w", encoding="utf-8") as f:
            for row in peer_rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (folder / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    chart = write_chart(summary, folder)
    (folder / "report.md").write_text(report(summary, rows, items, config, chart), encoding="utf-8")
    print(table(summary))
    print(f"\nReport: {folder / 'report.md'}")
    if thresholds:
        failures = below_floors(summary, json.loads(Path(thresholds).read_text()))
        for line in failures:
            print(f"BELOW FLOOR: {line}", file=sys.stderr)
        return 1 if failures else 0
    return 0


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


def below_floors(summary: dict, floors: dict) -> list[str]:
    failures = []
    for dotted, floor in floors.items():
        block, key = dotted.split(".", 1)
        value = summary[block][key]
        ceiling = dotted in ("declines.false_decline_rate",)  # lower is better
        if value is None or (value > floor if ceiling else value < floor):
            failures.append(f"{dotted} = {value} ({'ceiling' if ceiling else 'floor'} {floor})")
    return failures


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


def report(summary: dict, rows: list[dict], items: list[QAItem], config: dict, chart: str | None) -> str:
    peer = summary.get("baseline")
    out = [
        "# Evaluation report",
        "",
        f"Q&A file: `{config['qa']}` ({summary['questions']} questions, "
        f"{summary['answerable']} answerable). Embedder: `{config['embedder_name']}`.",
        "",
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
            out.append(f"- **{item.id}** ({item.topic}) _{asked}_: {', '.join(problems)}. Answer: {answer}")
    out += ["", "## Config", "", "```json", json.dumps(config, indent=2), "```", ""]
    return "\n".join(out)
