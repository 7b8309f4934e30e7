"""`assistant train-reader`: fine-tune the verified all-MiniLM-L6-v2 on the reader's train split,
choose nothing on test, export it to ONNX (int8), and record how it was made.

The recipe (settings in `settings.json`, fixed seed):
1. Hard negatives, mined once with the base model: for each answerable question, the units of
   its own document closest to it that are not labelled as answering it, hold none of its facts,
   and score below `false_negative_ratio` of its best positive (an unlabelled answer is not
   taught as wrong).
2. Training: mean pooling and L2, as the model is used. Each answerable question's positive unit
   is scored against every unit in the batch (in-batch negatives plus the hard negatives) with a
   softmax at `scale` (contrastive). With `no_answer` (note 013), one more column stands for
   "the guidance does not say": its score is one learned threshold, an unanswerable question's
   target is that column (so every unit in the batch, its page's closest among them, must score
   below the threshold) and each answer must beat it. A calibration term (logistic, the same
   threshold) also lifts answering units above it and the closest units to each unanswerable
   question below it, so that the best score alone says whether the guidance answers.
   (Asking an answerable question again with its answers masked, as one more unanswerable one,
   was tried and lowered dev AUC: note 013.)
3. Export to ONNX, dynamic int8 quantisation, and the dev figures of every form (base, trained,
   ONNX, int8). The output folder holds model.onnx, tokenizer.json (the official one), and
   reader.json: the base model's and the data's SHA-256, the settings, the dev figures and the
   outputs' SHA-256.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant.corpus import model_files
from assistant.files import sha256_file
from evals.reader.data import DATA, Split, data_sha256, load_split, normal
from evals.reader.metrics import score_split

SETTINGS = Path(__file__).with_name("settings.json")
OUTPUT = Path(__file__).resolve().parents[2] / "reader"
READER_NAME = "clinks-reader"


def length_groups(encodings: list, group: int):
    """(rows, input ids, attention mask, token types) for groups of `group` encodings of similar
    length, each padded to its longest: most units are short, and one long list would otherwise
    pad a whole batch to its length. `rows` are the encodings' indices."""
    import torch

    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
    for start in range(0, len(order), group):
        rows = order[start : start + group]
        width = max(len(encodings[i].ids) for i in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask, types = torch.zeros_like(ids), torch.zeros_like(ids)
        for row, i in enumerate(rows):
            n = len(encodings[i].ids)
            ids[row, :n], mask[row, :n], types[row, :n] = (
                torch.tensor(encodings[i].ids),
                1,
                torch.tensor(encodings[i].type_ids),
            )
        yield rows, ids, mask, types


class TorchEncoder:
    """The model being trained: the official tokenizer, BertModel, mean pooling, L2."""

    def __init__(self, folder: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer
        from transformers import BertModel

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()
        self.bert = BertModel.from_pretrained(str(folder))

    def forward(self, texts: list[str]):
        """Vectors in the texts' order (mean pooling over the mask, then L2)."""
        import torch

        pooled = [None] * len(texts)
        for rows, ids, mask, types in length_groups(self.tokenizer.encode_batch(texts), 16):
            out = self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
            weights = mask.unsqueeze(-1).float()
            vectors = (out * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            for row, i in enumerate(rows):
                pooled[i] = vectors[row]
        return torch.nn.functional.normalize(torch.stack(pooled), dim=-1)

    def encode(self, texts: list[str], batch: int = 64) -> np.ndarray:
        import torch

        self.bert.eval()
        with torch.no_grad():
            rows = [self.forward(texts[i : i + batch]).numpy() for i in range(0, len(texts), batch)]
        return np.concatenate(rows) if rows else np.zeros((0, 384), dtype=np.float32)


NO_ANSWER = -1  # the target of an unanswerable question, when trained to say so


def mine(split: Split, encode, settings: dict) -> dict[str, list[int]]:
    """For each example, the units to train it against: hard negatives for an answerable question,
    the closest units of its document for an unanswerable one."""
    units = encode(split.units)
    queries = encode([e.query for e in split.examples])
    mined = {}
    for row, example in enumerate(split.examples):
        own = split.doc_units(example.doc)
        scores = {i: float(units[i] @ queries[row]) for i in own}
        ranked = sorted(own, key=lambda i: -scores[i])
        if not example.answerable:
            mined[example.id] = ranked[: settings["calibration_negatives"]]
            continue
        ceiling = settings["false_negative_ratio"] * max(scores[i] for i in example.positives)
        facts = [normal(alt) for fact in example.facts for alt in fact]
        mined[example.id] = [
            i
            for i in ranked
            if i not in example.positives
            and scores[i] < ceiling
            and not any(f and f in split.unit_plain[i] for f in facts)
        ][: settings["hard_negative_pool"]]
    return mined


def train(split: Split, encoder: TorchEncoder, mined: dict[str, list[int]], settings: dict, say) -> dict:
    import torch

    rng = random.Random(settings["seed"])
    torch.manual_seed(settings["seed"])
    tau = torch.nn.Parameter(torch.tensor(0.4))
    params = list(encoder.bert.parameters())
    optimiser = torch.optim.AdamW([{"params": params}, {"params": [tau], "lr": 1e-2}], lr=settings["learning_rate"])
    examples = [e for e in split.examples if e.answerable or mined.get(e.id)]
    per_epoch = math.ceil(len(examples) / settings["batch_size"])
    total = per_epoch * settings["epochs"]
    warmup = max(1, int(total * settings["warmup_share"]))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))
    )
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    # The decision's own objective (note 011's next step): an unanswerable question's target is a
    # column of its own, the learned threshold, so every unit of the batch must score below it,
    # and an answer must score above it.
    no_answer = bool(settings.get("no_answer"))
    started, step, losses = time.perf_counter(), 0, []
    for epoch in range(settings["epochs"]):
        rng.shuffle(examples)
        encoder.bert.train()
        for start in range(0, len(examples), settings["batch_size"]):
            batch = examples[start : start + settings["batch_size"]]
            columns: list[int] = []  # unit indices, the batch's documents
            targets: list[tuple[int, int]] = []  # (row, column): an answer, or NO_ANSWER for an unanswerable question
            calibrate: list[tuple[int, int, float]] = []  # (row, column, label)
            for row, e in enumerate(batch):
                if e.answerable:
                    targets.append((row, len(columns)))
                    columns.append(rng.choice(sorted(e.positives)))
                    pool = mined[e.id]
                    columns += rng.sample(pool, min(settings["hard_negatives"], len(pool)))
                    calibrate.append((row, targets[-1][1], 1.0))
                else:
                    for i in mined[e.id]:
                        calibrate.append((row, len(columns), 0.0))
                        columns.append(i)
                    if no_answer:
                        targets.append((row, NO_ANSWER))
            q = encoder.forward([e.query for e in batch])
            d = encoder.forward([split.units[i] for i in columns])
            sims = q @ d.T
            loss = torch.zeros(())
            if targets:
                rows = [r for r, _ in targets]
                logits = settings["scale"] * sims[rows]
                if no_answer:  # one more column, "the guidance does not say": the threshold itself
                    logits = torch.cat([logits, (settings["scale"] * tau).expand(len(rows), 1)], dim=1)
                    targets = [(r, len(columns) if c == NO_ANSWER else c) for r, c in targets]
                mask = torch.zeros_like(logits, dtype=torch.bool)
                for k, (r, c) in enumerate(targets):
                    if not batch[r].answerable:
                        continue
                    for j, unit in enumerate(columns):
                        # Another answer of the same question is not a negative.
                        if j != c and (unit in batch[r].positives or split.units[unit] == split.units[columns[c]]):
                            mask[k, j] = True
                logits = logits.masked_fill(mask, -1e4)
                loss = loss + torch.nn.functional.cross_entropy(logits, torch.tensor([c for _, c in targets]))
            if calibrate and settings["calibration_weight"] > 0:
                values = torch.stack([sims[r, c] for r, c, _ in calibrate])
                labels = torch.tensor([y for _, _, y in calibrate])
                loss = loss + settings["calibration_weight"] * bce(
                    settings["calibration_scale"] * (values - tau), labels
                )
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            step += 1
            losses.append(float(loss.detach()))
            if step % 20 == 0 or step in (1, 5) or step == total:
                say(
                    f"  epoch {epoch + 1}, step {step}/{total}: loss {np.mean(losses[-20:]):.3f}, "
                    f"threshold {float(tau.detach()):.3f}, {time.perf_counter() - started:.0f} s"
                )
    return {"steps": total, "seconds": round(time.perf_counter() - started), "threshold": round(float(tau.detach()), 4)}


def onnx_encode(folder: Path, onnx_file: Path, threads: int):
    from assistant.corpus.onnx_encoder import OnnxEncoder

    encoder = OnnxEncoder(
        folder / "tokenizer.json", onnx_file, tokenizer_sha256=model_files.FILES["tokenizer.json"][0], threads=threads
    )
    return lambda texts: np.asarray(encoder.embed_documents(texts), dtype=np.float32)


def quantize(source: Path, target: Path, per_channel: bool) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=per_channel)


def main(
    out: Path = OUTPUT,
    settings_path: Path = SETTINGS,
    data: Path = DATA,
    epochs: int | None = None,
    keep_fp32: Path | None = None,
    stage: str = "all",
) -> int:
    """Train the reader, then its judge (`stage` "reader" or "judge" runs one: the judge is mined
    with the base model, so it does not depend on the reader it is shipped beside)."""
    import torch

    try:
        settings = json.loads(settings_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        print(f"Error: the settings file {settings_path} could not be read ({err}).", file=sys.stderr)
        return 2
    if epochs is not None:
        settings["epochs"] = epochs
    torch.set_num_threads(settings["threads"])
    random.seed(settings["seed"])
    np.random.seed(settings["seed"] % 2**32)
    base = model_files.default_folder()
    try:
        model_files.verify(base)
    except model_files.ModelFileError as err:
        print(f"Error: the base model is not verified here: {err} {model_files.FIX_HINT}", file=sys.stderr)
        return 1
    if stage == "judge" and not (out / "reader.json").is_file():
        print(f"Error: no reader in {out} to add a judge to; train the reader first.", file=sys.stderr)
        return 1
    started = time.perf_counter()
    train_split, dev_split = load_split("train", data), load_split("dev", data)
    say(
        f"Train: {len(train_split.examples)} questions over {len(set(train_split.unit_doc))} documents; "
        f"dev: {len(dev_split.examples)} over {len(set(dev_split.unit_doc))} (test is not read)"
    )
    encoder = TorchEncoder(base, settings["max_tokens"])
    mined = mine(train_split, encoder.encode, settings)
    say(f"Mined negatives with the base model in {time.perf_counter() - started:.0f} s")
    if stage in ("all", "reader"):
        _train_reader(out, base, encoder, train_split, dev_split, mined, settings, data, keep_fp32)
    if stage in ("all", "judge") and settings.get("judge"):
        _train_judge(out, base, train_split, dev_split, mined, settings)
    record = json.loads((out / "reader.json").read_text(encoding="utf-8"))
    sha256 = sha256_file(out / "reader.json")
    say(f"Written to {out} in {time.perf_counter() - started:.0f} s; reader.json sha256 {sha256}")
    for name in ("model", "judge"):
        if record.get(name):
            say(f"  {record[name]['file']}: sha256 {record[name]['sha256']} ({record[name]['bytes']:,} bytes)")
    say(f"Pin it as reader_files.SHIPPED_SHA256, or set ASSISTANT_READER_SHA256={sha256} for this folder.")
    return 0


def say(line: str) -> None:
    print(line, flush=True)


def _train_reader(out, base, encoder, train_split, dev_split, mined, settings, data, keep_fp32) -> None:
    import torch

    started = time.perf_counter()
    base_dev = score_split(dev_split, encoder.encode)
    say(f"Base model on dev: {base_dev}; training the reader...")
    run = train(train_split, encoder, mined, settings, say)
    trained_dev = score_split(dev_split, encoder.encode)
    say(f"Trained (torch) on dev: {trained_dev}")
    tmp = Path(tempfile.mkdtemp(prefix=".reader-", dir=out.parent))
    try:
        encoder.bert.save_pretrained(str(tmp / "weights"))
        model_files.export_bert(tmp / "weights", tmp / "fp32.onnx")
        shutil.copyfile(base / "tokenizer.json", tmp / "tokenizer.json")
        fp32_dev = score_split(dev_split, onnx_encode(tmp, tmp / "fp32.onnx", settings["threads"]))
        shipped = tmp / "fp32.onnx"
        int8_dev = None
        if settings["quantize"] == "int8":
            quantize(tmp / "fp32.onnx", tmp / "int8.onnx", settings.get("per_channel", True))
            int8_dev = score_split(dev_split, onnx_encode(tmp, tmp / "int8.onnx", settings["threads"]))
            shipped = tmp / "int8.onnx"
        say(f"ONNX fp32 on dev: {fp32_dev}; int8: {int8_dev}")
        if keep_fp32 is not None:  # for measuring other runtimes; never shipped (90 MB)
            shutil.copyfile(tmp / "fp32.onnx", keep_fp32)
        folder = tmp / "out"
        folder.mkdir()
        shutil.copyfile(shipped, folder / model_files.ONNX_FILE)
        shutil.copyfile(tmp / "tokenizer.json", folder / "tokenizer.json")
        record = {
            "name": READER_NAME,
            "model": {
                "file": model_files.ONNX_FILE,
                "sha256": sha256_file(folder / model_files.ONNX_FILE),
                "bytes": (folder / model_files.ONNX_FILE).stat().st_size,
                "precision": settings["quantize"] or "fp32",
            },
            "tokenizer": {"file": "tokenizer.json", "sha256": model_files.FILES["tokenizer.json"][0]},
            "base": {
                "model": model_files.MODEL_ID,
                "revision": model_files.REVISION,
                "weights_sha256": model_files.FILES["model.safetensors"][0],
            },
            "data": {
                "folder": "evals/reader-data",
                "sha256": data_sha256(data),
                "trained_on": f"train split: {len(train_split.examples)} questions, "
                f"{len(set(train_split.unit_doc))} documents",
                "chosen_on": f"dev split: {len(dev_split.examples)} questions, {len(set(dev_split.unit_doc))} documents",
            },
            "settings": settings,
            "training": run,
            "dev": {"base": base_dev, "trained": trained_dev, "onnx_fp32": fp32_dev, "onnx_int8": int8_dev},
            "torch": torch.__version__,
            "seconds": round(time.perf_counter() - started),
        }
        (folder / "reader.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        for kept in ("README.md",):  # the card is written by hand, and kept
            if (out / kept).is_file():
                shutil.copyfile(out / kept, folder / kept)
        if out.exists():
            out.rename(tmp / "old")
        folder.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _train_judge(out, base, train_split, dev_split, mined, settings) -> None:
    from evals.reader.judge import (
        JUDGE_FILE,
        TorchJudge,
        candidates_by,
        onnx_scorer,
        pairs_of,
        score_judge,
        train_judge,
    )

    started = time.perf_counter()
    reader = onnx_encode(out, out / model_files.ONNX_FILE, settings["threads"])
    candidates = candidates_by(dev_split, reader, settings["judge_candidates"])  # as the reader finds them
    judge = TorchJudge(base, settings["judge_max_tokens"])
    pairs = pairs_of(train_split, mined, settings["judge_negatives"])
    say(f"Training the judge on {len(pairs)} pairs...")
    run = train_judge(judge, pairs, settings, say)
    trained_dev = score_judge(dev_split, candidates, judge.score)
    say(f"Judge (torch) on dev: {trained_dev}")
    tmp = Path(tempfile.mkdtemp(prefix=".judge-", dir=out))
    try:
        # Exported from the saved weights in a fresh process: the exporter, run in the process
        # that trained, was seen to exhaust memory here.
        judge.model.save_pretrained(str(tmp / "weights"))
        del judge
        subprocess.run(
            [sys.executable, "-m", "evals.reader.judge", str(tmp / "weights"), str(tmp / "fp32.onnx")], check=True
        )
        quantize(tmp / "fp32.onnx", tmp / JUDGE_FILE, settings.get("per_channel", True))
        tokenizer = out / "tokenizer.json"
        fp32_dev = score_judge(
            dev_split, candidates, onnx_scorer(tokenizer, tmp / "fp32.onnx", settings["judge_max_tokens"])
        )
        int8_dev = score_judge(
            dev_split, candidates, onnx_scorer(tokenizer, tmp / JUDGE_FILE, settings["judge_max_tokens"])
        )
        say(f"Judge on dev: torch {trained_dev}, ONNX fp32 {fp32_dev}, int8 {int8_dev}")
        os.replace(tmp / JUDGE_FILE, out / JUDGE_FILE)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    record = json.loads((out / "reader.json").read_text(encoding="utf-8"))
    record["judge"] = {
        "file": JUDGE_FILE,
        "sha256": sha256_file(out / JUDGE_FILE),
        "bytes": (out / JUDGE_FILE).stat().st_size,
        "precision": "int8",
        "max_tokens": settings["judge_max_tokens"],
        "training": run,
        "dev": {"torch": trained_dev, "onnx_fp32": fp32_dev, "onnx_int8": int8_dev},
        "seconds": round(time.perf_counter() - started),
    }
    (out / "reader.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
