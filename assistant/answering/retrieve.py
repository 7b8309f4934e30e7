"""Hybrid retrieval: BM25 over stemmed words and dense vectors from Chroma, fused by rank.

The question is first expanded with the glossary ("CE+" also searches "Cyber Essentials Plus")
and its misspelt words are corrected against the corpus vocabulary ("qualfy" -> "qualify").
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from rank_bm25 import BM25Okapi

from assistant.corpus.chunking import Chunk
from assistant.corpus.embeddings import embedder_kind
from assistant.corpus.glossary import Glossary
from assistant.text import terms

log = logging.getLogger(__name__)

_MARKER = re.compile(r"\s*\[\d+\]|\*\*")
_SPLIT = re.compile(r"(?<=\])\s+|\n+")
MAX_QUOTED_SENTENCES = 8
RRF_K = 60  # the usual constant of reciprocal rank fusion: damps the weight of the very top ranks
DENSE_CANDIDATES = 20
# Spelling correction is the one step whose cost grows with every unknown word, so a text gets
# at most this many corrections (a real question has one or two typos; pasted junk has hundreds).
MAX_CORRECTIONS = 8
_NO_POSTINGS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class Passage:
    chunk: Chunk
    score: float  # fused
    bm25: float
    dense: float


class Retriever:
    def __init__(self, chunks: list[Chunk], store, embedder, glossary: Glossary) -> None:
        self.chunks = chunks
        self.by_id = {c.chunk_id: c for c in chunks}
        self.store = store
        self.embedder = embedder
        self.glossary = glossary
        self.position = {c.chunk_id: i for i, c in enumerate(chunks)}
        tokenised = [terms(c.search_text) for c in chunks]
        # A low b: long passages (a glossary list) are not penalised much for their length.
        self.bm25 = BM25Okapi(tokenised, b=0.3) if chunks else None
        self._postings = _postings(self.bm25) if chunks else {}
        self._doc_len = np.array(self.bm25.doc_len) if chunks else np.zeros(0)
        self.doc_freq = Counter(t for toks in tokenised for t in set(toks))
        self._vocabulary = sorted(self.doc_freq)
        self._corrections: dict[str, str] = {}  # term -> its correction, reused across questions
        # Where each glossary entry's defining sentence stands, found once rather than per question.
        self._defined_in = {
            e.quote: [c.chunk_id for c in chunks if e.quote in c.text] for e in glossary.entries if e.quote
        }

    def idf(self, term: str) -> float:
        """Rarity of a term in the corpus; a term the corpus never uses counts as rarest."""
        n = len(self.chunks) or 1
        return math.log(1 + n / (1 + self.doc_freq.get(term, 0)))

    def known(self, term: str) -> bool:
        return term in self.doc_freq

    def query_terms(self, text: str, expand: bool = True) -> list[str]:
        """Stemmed terms of the (glossary-expanded) text, misspellings corrected where close."""
        out = []
        budget = MAX_CORRECTIONS
        for term in terms(self.glossary.expand(text) if expand else text):
            if term not in self.doc_freq and len(term) >= 5 and not term.isdigit() and budget:
                budget -= 1
                term = self._correct(term)
            out.append(term)
        return out

    def _correct(self, term: str) -> str:
        corrected = self._corrections.get(term)
        if corrected is None:
            close = difflib.get_close_matches(term, self._vocabulary, n=1, cutoff=0.8)
            corrected = close[0] if close else term
            if len(self._corrections) < 50_000:  # bounded: junk words must not grow it for ever
                self._corrections[term] = corrected
        return corrected

    def query_vector(self, text: str) -> list[float]:
        return self.encode([text])[0]

    def encode(self, texts: list[str]) -> list[list[float]]:
        """Question vectors, in one batch. A semantic model reads the glossary-expanded text as
        written; the hashing embedder also gets the corrected stems."""
        hashing = embedder_kind(getattr(self.embedder, "name", "")) == "hashing"
        expanded = [
            " ".join([self.glossary.expand(t), *self.query_terms(t)]) if hashing else self.glossary.expand(t)
            for t in texts
        ]
        bounded = getattr(self.embedder, "embed_queries", None)  # a length-bounded query encoder, if any
        if bounded is not None:
            return bounded(expanded)
        return (
            self.embedder.embed_documents(expanded) if len(expanded) > 1 else [self.embedder.embed_query(expanded[0])]
        )

    def search(
        self, text: str, k: int, vector: list[float] | None = None, follow_from: list[str] = ()
    ) -> list[Passage]:
        """Passages fused from keyword, vector and glossary search; `follow_from` (the passages the
        last answer quoted, for a follow-up that points back) counts as one more ranked list."""
        if not self.chunks:
            return []
        bm25_scores = self.bm25_scores(self.query_terms(text))
        matching = np.flatnonzero(bm25_scores > 0)  # best first; ties in passage order
        bm25_ranked = matching[np.argsort(-bm25_scores[matching], kind="stable")].tolist()
        dense = self._dense(vector if vector is not None else self.query_vector(text))
        fused: dict[str, float] = {}
        for rank, i in enumerate(bm25_ranked):
            cid = self.chunks[i].chunk_id
            fused[cid] = fused.get(cid, 0.0) + 1 / (RRF_K + rank + 1)
        for rank, (cid, _) in enumerate(dense):
            fused[cid] = fused.get(cid, 0.0) + 1 / (RRF_K + rank + 1)
        # The glossary knows where each term is defined: that passage is a third ranked list.
        for rank, cid in enumerate(self._defining_chunks(text)):
            fused[cid] = fused.get(cid, 0.0) + 1 / (RRF_K + rank + 1)
        for rank, cid in enumerate(c for c in follow_from if c in self.by_id):
            fused[cid] = fused.get(cid, 0.0) + 1 / (RRF_K + rank + 1)
        dense_by_id = dict(dense)
        ranked = sorted(fused, key=lambda cid: -fused[cid])[:k]
        # What the last answer quoted always stays in view: a follow-up ("how many more goes do we
        # get") is most often answered there, though its own words may find nothing.
        kept = [c for c in follow_from if c in self.by_id and c not in ranked][: k // 2]
        if kept:
            ranked = ranked[: k - len(kept)] + kept
        return [
            Passage(self.by_id[cid], fused[cid], float(bm25_scores[self.position[cid]]), dense_by_id.get(cid, 0.0))
            for cid in ranked
        ]

    def bm25_scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25Okapi's scores (`get_scores`), the same numbers, computed only over the passages
        that hold each term: rank_bm25 reads every passage for every term, in Python, which at 100x
        the corpus was the largest cost of a search."""
        bm25 = self.bm25
        scores = np.zeros(bm25.corpus_size)
        for term in query_terms:
            docs, freqs = self._postings.get(term, _NO_POSTINGS)
            length_norm = 1 - bm25.b + bm25.b * self._doc_len[docs] / bm25.avgdl
            scores[docs] += (bm25.idf.get(term) or 0) * (freqs * (bm25.k1 + 1) / (freqs + bm25.k1 * length_norm))
        return scores

    def quoted_by(self, answer: str) -> list[str]:
        """The passages an earlier answer quoted, found by its sentences (an answer is made of
        sentences quoted verbatim, so the history's text is enough: no ids need to travel)."""
        sentences = [
            s for s in (_MARKER.sub("", line).strip(" -*") for line in _SPLIT.split(answer)) if len(s.split()) >= 4
        ]
        found = []
        for sentence in sentences[:MAX_QUOTED_SENTENCES]:
            for chunk in self.chunks:
                if sentence in chunk.text and chunk.chunk_id not in found:
                    found.append(chunk.chunk_id)
                    break
        return found

    def _defining_chunks(self, text: str) -> list[str]:
        found = []
        for entry in self.glossary.matches(text):
            found += [cid for cid in self._defined_in.get(entry.quote, ()) if cid not in found]
        return found

    def _dense(self, vector: list[float]) -> list[tuple[str, float]]:
        try:
            results = self.store.similarity_search_by_vector_with_relevance_scores(
                vector, k=min(DENSE_CANDIDATES, len(self.chunks))
            )
        except Exception as err:  # a Chroma server that is down or restarting
            # BM25 and the glossary still find grounded passages: answer with them, and say so in the log.
            log.warning("Vector search unavailable (%s); answering from keyword search only.", type(err).__name__)
            return []
        # Chroma may still hold vectors of an ingest that failed half-way: only the chunks in
        # the snapshot count.
        return [(doc.id, 1.0 - distance) for doc, distance in results if doc.id in self.by_id]


def _postings(bm25: BM25Okapi) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """term -> (the passages that hold it, how often each does): what a search reads per term."""
    docs: dict[str, list[int]] = {}
    freqs: dict[str, list[int]] = {}
    for i, counts in enumerate(bm25.doc_freqs):
        for term, n in counts.items():
            docs.setdefault(term, []).append(i)
            freqs.setdefault(term, []).append(n)
    return {t: (np.array(docs[t], dtype=np.int64), np.array(freqs[t], dtype=np.int64)) for t in docs}
