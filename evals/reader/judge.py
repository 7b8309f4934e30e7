"""A second stage, measured and not shipped (note 011), the judge: all-MiniLM-L6-v2 reading a question and one candidate
unit together (a cross-encoder) and saying how likely the unit answers it.

Trained pointwise on the train split: every labelled answer of an answerable question is a
positive; its hard negatives (mined as for the reader, so that unlabelled answers are not taught
as wrong) and the closest units to each unanswerable question are negatives. The near misses
are what the bi-encoder cannot learn: same subject, same words, but not the detail asked for.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import numpy as np

from evals.reader.data import Split
from evals.reader.metrics import auc
from evals.reader.train import length_groups

JUDGE_FILE = "judge.onnx"


class TorchJudge:
    def __init__(self, folder: Path, max_tokens: int, tokenizer_file: Path | None = None) -> None:
        from tokenizers import Tokenizer
        from transformers import BertForSequenceClassification

        self.tokenizer = Tokenizer.from_file(str(tokenizer_file or folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()
        self.model = BertForSequenceClassification.from_pretrained(str(folder), num_labels=1)

    def forward(self, pairs: list[tuple[str, str]]):
        """Logits in the pairs' order."""
        import torch

        logits = [None] * len(pairs)
        for rows, ids, mask, types in length_groups(self.tokenizer.encode_batch(pairs), 8):
            out = self.model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits[:, 0]
            for row, i in enumerate(rows):
                logits[i] = out[row]
        return torch.stack(logits)

    def score(self, pairs: list[tuple[str, str]], batch: int = 64) -> np.ndarray:
        import torch

        self.model.eval()
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        out = np.zeros(len(pairs), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, len(order), batch):
                rows = order[start : start + batch]
                out[rows] = self.forward([pairs[i] for i in rows]).numpy()
        return out


def pairs_of(split: Split, mined: dict[str, list[int]], negatives: int) -> list[tuple[str, str, float]]:
    out = []
    for e in split.examples:
        if e.answerable:
            out += [(e.query, split.units[i], 1.0) for i in sorted(e.positives)]
            out += [(e.query, split.units[i], 0.0) for i in mined[e.id][:negatives]]
        else:
            out += [(e.query, split.units[i], 0.0) for i in mined[e.id]]
    return out


def train_judge(judge: TorchJudge, pairs: list[tuple[str, str, float]], settings: dict, say) -> dict:
    import torch

    rng = random.Random(settings["seed"])
    torch.manual_seed(settings["seed"])
    optimiser = torch.optim.AdamW(judge.model.parameters(), lr=settings["judge_learning_rate"])
    size = settings["judge_batch_size"]
    total = math.ceil(len(pairs) / size) * settings["judge_epochs"]
    warmup = max(1, int(total * settings["warmup_share"]))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))
    )
    positives = sum(1 for *_, y in pairs if y)
    weight = torch.tensor((len(pairs) - positives) / max(positives, 1))  # balanced: positives are fewer
    started, step, losses = time.perf_counter(), 0, []
    for epoch in range(settings["judge_epochs"]):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        judge.model.train()
        for start in range(0, len(order), size):
            batch = [pairs[i] for i in order[start : start + size]]
            logits = judge.forward([(q, u) for q, u, _ in batch])
            labels = torch.tensor([y for *_, y in batch])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, pos_weight=weight)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(judge.model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            step += 1
            losses.append(float(loss.detach()))
            if step % 50 == 0 or step == total:
                say(
                    f"  judge epoch {epoch + 1}, step {step}/{total}: loss {np.mean(losses[-50:]):.3f}, "
                    f"{time.perf_counter() - started:.0f} s"
                )
    return {"steps": total, "seconds": round(time.perf_counter() - started), "pairs": len(pairs)}


def score_judge(split: Split, candidates: dict[str, list[int]], score) -> dict:
    """Among each question's candidates (the reader's top units of the split): is a labelled
    answer the judge's first, and does the judge's best score tell answerable from not (AUC)?"""
    pairs, spans = [], []
    for e in split.examples:
        units = candidates[e.id]
        spans.append((len(pairs), len(units)))
        pairs += [(e.query if e.kind != "followup_offtopic" else e.asked, split.units[i]) for i in units]
    scores = score(pairs)
    top1, found, answerable_best, unanswerable_best = 0, 0, [], []
    for e, (start, n) in zip(split.examples, spans):
        s = scores[start : start + n]
        if e.answerable:
            answerable_best.append(float(s.max()))
            if any(i in e.positives for i in candidates[e.id]):
                found += 1
                top1 += candidates[e.id][int(s.argmax())] in e.positives
        else:
            unanswerable_best.append(float(s.max()))
    return {
        "top1_when_found": round(top1 / max(found, 1), 3),
        "auc": round(auc(answerable_best, unanswerable_best), 3),
    }


def candidates_by(split: Split, encode, k: int) -> dict[str, list[int]]:
    """Each question's k closest units of the split, by an encoder (the reader, as the assistant
    would find them)."""
    units = encode(split.units)
    queries = encode([e.query for e in split.examples])
    return {e.id: [int(i) for i in np.argsort(-(units @ queries[row]))[:k]] for row, e in enumerate(split.examples)}


def export_judge(judge: TorchJudge, target: Path) -> None:
    import logging
    import warnings

    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.logits

    judge.model.eval()
    ids = torch.ones(2, 8, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "sequence"} for name in names} | {"logits": {0: "batch"}}
    for name in ("torch.onnx", "torch._dynamo", "torch.export", "onnxscript"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Wrapper(judge.model),
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(target),
            input_names=names,
            output_names=["logits"],
            opset_version=17,
            dynamic_axes=axes,
            external_data=False,
        )


def onnx_scorer(tokenizer_file: Path, onnx_file: Path, max_tokens: int):
    """The exported judge on ONNX Runtime, for its dev figures: (question, unit) pairs -> logits."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])

    def score(pairs: list[tuple[str, str]]) -> np.ndarray:
        out = np.zeros(len(pairs), dtype=np.float32)
        for rows, ids, mask, types in length_groups(tokenizer.encode_batch(pairs), 64):
            feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "token_type_ids": types.numpy()}
            out[rows] = session.run(None, feed)[0][:, 0]
        return out

    return score


if __name__ == "__main__":  # python -m evals.reader.judge WEIGHTS_FOLDER TARGET.onnx: the export, on its own
    import sys

    from assistant.corpus import model_files

    tokenizer = model_files.default_folder() / "tokenizer.json"
    export_judge(TorchJudge(Path(sys.argv[1]), 128, tokenizer_file=tokenizer), Path(sys.argv[2]))
