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
import threading
import time
from pathlib import Path

import numpy as np

from assistant.corpus.onnx_encoder import EmbedderUnavailable, check_file, checked_bytes, default_threads
from evals.reader.data import Split
from evals.reader.metrics import auc

JUDGE_FILE = "judge.onnx"


class TorchJudge:
    def __init__(self, folder: Path, max_tokens: int, tokenizer_file: Path | None = None) -> None:
        from tokenizers import Tokenizer
        from transformers import BertForSequenceClassification

        self.tokenizer = Tokenizer.from_file(str(tokenizer_file or folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()
        self.model = BertForSequenceClassification.from_pretrained(str(folder), num_labels=1)

    def forward(self, pairs: list[tuple[str, str]], group: int = 8):
        """Logits in the pairs' order, computed in groups of similar length (less padding)."""
        import torch

        encodings = self.tokenizer.encode_batch(pairs)
        order = sorted(range(len(pairs)), key=lambda i: len(encodings[i].ids))
        logits = [None] * len(pairs)
        for start in range(0, len(order), group):
            rows = order[start : start + group]
            width = max(len(encodings[i].ids) for i in rows)
            ids = torch.zeros((len(rows), width), dtype=torch.long)
            mask, types = torch.zeros_like(ids), torch.zeros_like(ids)
            for row, i in enumerate(rows):
                e = encodings[i]
                n = len(e.ids)
                ids[row, :n], mask[row, :n], types[row, :n] = torch.tensor(e.ids), 1, torch.tensor(e.type_ids)
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
    judge = OnnxJudge(tokenizer_file, onnx_file, sha256=None, max_tokens=max_tokens, max_pairs=0)
    return lambda pairs: np.asarray(judge.logits(pairs), dtype=np.float32)


class OnnxJudge:
    def __init__(
        self,
        tokenizer_file: Path | str,
        onnx_file: Path | str,
        *,
        sha256: str | None,
        tokenizer_sha256: str | None = None,
        max_tokens: int = 128,
        max_pairs: int = 16,
        threads: int | None = None,
        fix_hint: str = "",
    ) -> None:
        self.tokenizer_file, self.onnx_file = Path(tokenizer_file), Path(onnx_file)
        self.sha256, self.tokenizer_sha256 = sha256, tokenizer_sha256
        self.max_tokens, self.max_pairs = max_tokens, max_pairs
        self.threads = threads or default_threads()
        self.fix_hint = fix_hint
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _error(self, message: str) -> EmbedderUnavailable:
        return EmbedderUnavailable(f"{message} {self.fix_hint}".strip())

    def load(self) -> OnnxJudge:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                data = checked_bytes(self.tokenizer_file, self.tokenizer_sha256, None, self._error)
                if self.sha256 is not None:
                    check_file(self.onnx_file, self.sha256, None, self._error)
                tokenizer = Tokenizer.from_str(data.decode("utf-8"))
                tokenizer.enable_truncation(max_length=self.max_tokens)
                tokenizer.no_padding()
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                try:
                    session = ort.InferenceSession(str(self.onnx_file), options, providers=["CPUExecutionProvider"])
                except Exception as err:
                    raise self._error(
                        f"The judge {self.onnx_file} could not be loaded ({type(err).__name__})."
                    ) from err
                self._tokenizer, self._session = tokenizer, session
        return self

    def logits(self, pairs: list[tuple[str, str]]) -> list[float]:
        """One score per (question, unit) pair, in order; only the first `max_pairs` are read."""
        pairs = list(pairs)[: self.max_pairs] if self.max_pairs else list(pairs)
        if not pairs:
            return []
        self.load()
        encodings = self._tokenizer.encode_batch(pairs)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(pairs), width), dtype=np.int64)
        mask, types = np.zeros_like(ids), np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
        (out,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        return out[:, 0].astype(float).tolist()


if __name__ == "__main__":  # python -m evals.reader.judge WEIGHTS_FOLDER TARGET.onnx: the export, on its own
    import sys

    from assistant.corpus import model_files

    tokenizer = model_files.default_folder() / "tokenizer.json"
    export_judge(TorchJudge(Path(sys.argv[1]), 128, tokenizer_file=tokenizer), Path(sys.argv[2]))
