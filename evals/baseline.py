"""The naive peer: what a tutorial RAG would do, on the same corpus and questions.

Fixed 1000-character chunks with 200 overlap, BM25 only, the top chunk's best-matching
sentences cut to the same word budget, and it never declines.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from langchain_text_splitters import RecursiveCharacterTextSplitter
from rank_bm25 import BM25Okapi

from assistant.corpus.documents import load_corpus

_WORD = re.compile(r"\w+")


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass
class PeerAnswer:
    text: str
    passages: list[str]
    citations: list[str] = field(default_factory=list)
    declined: bool = False
    latency_ms: float = 0.0


class NaivePeer:
    def __init__(self, corpus_dir, max_words: int) -> None:
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        self.chunks = [c for d in load_corpus(corpus_dir).documents for c in splitter.split_text(d.text)]
        self.bm25 = BM25Okapi([_tokens(c) for c in self.chunks])
        self.max_words = max_words

    def ask(self, question: str, history: list[str]) -> PeerAnswer:
        started = time.perf_counter()
        words = set(_tokens(question))
        scores = self.bm25.get_scores(_tokens(question))
        order = sorted(range(len(self.chunks)), key=lambda i: -scores[i])[:10]
        top = self.chunks[order[0]]
        sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", top) if s.strip()]
        ranked = sorted(sentences, key=lambda s: -len(words & set(_tokens(s))))
        picked, count = [], 0
        for s in ranked:
            n = len(s.split())
            if count + n > self.max_words and picked:
                break
            picked.append(s)
            count += n
        text = " ".join(s for s in sentences if s in picked)
        text = " ".join(text.split()[: self.max_words])
        return PeerAnswer(
            text=text + " [1]",
            passages=[self.chunks[i] for i in order],
            citations=[top],
            latency_ms=(time.perf_counter() - started) * 1000,
        )
