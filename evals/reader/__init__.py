"""The reader: all-MiniLM-L6-v2 fine-tuned on questions in users' words (`assistant train-reader`).

Training lives here, beside the evaluation, not in the request path: `data.py` reads the frozen
questions of `evals/reader-data/` and finds the quotable unit each one is answered by, `train.py`
mines negatives, trains, exports and records how (`reader/reader.json`), `metrics.py` scores a
model on a split. The request path only loads and verifies the result (assistant/corpus/reader_files.py).
"""
