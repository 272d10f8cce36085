"""The most frequent terms in a set of texts, per category and language: Chinese cut into words by jieba, English
split on letters and lower-cased, both without their stop words. Digits never make a term, so order numbers and
phone numbers in a ticket do not surface on the dashboard.

Counting happens in Python over a bounded set of texts (services.analytics.voice.texts), in a worker thread: jieba
loads its dictionary once per process (about half a second) and segments synchronously."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import jieba

_CJK_OR_NOT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[^\u3400-\u4dbf\u4e00-\u9fff]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_ENGLISH_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
MIN_ENGLISH_LENGTH = 3

ENGLISH_STOP_WORDS = frozenset(
    """
    about above after again against all also and any are aren't because been before being below between both but
    can can't cannot could couldn't did didn't does doesn't doing don't down during each few for from further get
    got had hadn't has hasn't have haven't having her here hers herself him himself his how i'm i've into isn't
    it's its itself just let's more most mustn't myself nor not now off once only other ought our ours ourselves
    out over own please same she she's should shouldn't some such than that that's the their theirs them
    themselves then there there's these they they're this those through too under until very was wasn't were
    weren't what what's when where which while who whom why will with won't would wouldn't you you're your yours
    yourself yourselves hello thanks thank still yet one two
    """.split()
)
# Function words jieba keeps as words of two characters or more; single characters are dropped anyway.
CHINESE_STOP_WORDS = frozenset(
    "我们 你们 他们 她们 这个 那个 这样 那样 什么 怎么 为什么 因为 所以 但是 而且 还是 或者 就是 已经 可以 "
    "一个 一下 一直 现在 然后 如果 没有 不是 自己 谢谢 您好 你好 请问 非常 真的 还有 这些 那些 时候".split()
)


@dataclass(frozen=True)
class TermCount:
    term: str
    count: int


@dataclass(frozen=True)
class CategoryTerms:
    category: str
    language: str  # en or zh
    texts: int  # how many texts of the category had a term in this language
    terms: list[TermCount]


_tokenizer: jieba.Tokenizer | None = None
_tokenizer_lock = threading.Lock()


def _segmenter() -> jieba.Tokenizer:
    """jieba's default dictionary, loaded on first use and shared (segmenting is read-only)."""
    global _tokenizer
    with _tokenizer_lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _tokenizer = tokenizer
        return _tokenizer


def terms(text: str) -> list[tuple[str, str]]:
    """(language, term) for every term of `text`, in order: runs of Chinese characters through jieba (without
    its HMM guesses, so a given dictionary always cuts the same way), the rest as English words."""
    found: list[tuple[str, str]] = []
    for run in _CJK_OR_NOT.findall(text):
        if _CJK.match(run):
            words = _segmenter().lcut(run, HMM=False)
            found.extend(("zh", w) for w in words if len(w) >= 2 and w not in CHINESE_STOP_WORDS)
        else:
            words = _ENGLISH_WORD.findall(run.lower().replace("\u2019", "'"))
            found.extend(("en", w) for w in words if len(w) >= MIN_ENGLISH_LENGTH and w not in ENGLISH_STOP_WORDS)
    return found


def top_terms(texts: Iterable[tuple[str, str]], *, limit: int = 10) -> list[CategoryTerms]:
    """The `limit` most frequent terms per (category, language) over (category, text) pairs, most first and
    then alphabetically; categories alphabetically, English before Chinese."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    texts_with: Counter[tuple[str, str]] = Counter()
    for category, text in texts:
        found = terms(text)
        for language in {language for language, _ in found}:
            texts_with[(category, language)] += 1
        for language, term in found:
            counts[(category, language)][term] += 1
    return [
        CategoryTerms(
            category,
            language,
            texts_with[(category, language)],
            [TermCount(t, n) for t, n in sorted(counts[(category, language)].items(), key=lambda c: (-c[1], c[0]))][
                :limit
            ],
        )
        for category, language in sorted(counts, key=lambda key: (key[0], key[1] != "en"))
    ]
