"""The negative words that flag a ticket text or a comment for follow-up, per language, in one place.

Deliberately small and literal: a flag asks a person to read the text, so a false alarm costs a glance while a
missed complaint costs a member. English words match whole tokens (so "bad" does not flag "badge"); Chinese has
no spaces, so its words match anywhere in the text (jieba may cut 太差 into 太 + 差, a substring never misses it).
Negations ("not bad", 不差) are not parsed: they flag, and the reader decides."""

from __future__ import annotations

import re

ENGLISH = frozenset(
    {
        "angry",
        "awful",
        "bad",
        "broken",
        "complain",
        "complaint",
        "damaged",
        "disappointed",
        "disappointing",
        "faulty",
        "horrible",
        "poor",
        "refund",
        "rude",
        "scam",
        "terrible",
        "unacceptable",
        "upset",
        "useless",
        "worst",
        "wrong",
    }
)
CHINESE = (
    "差劲",
    "太差",
    "失望",
    "投诉",
    "退款",
    "破损",
    "坏了",
    "糟糕",
    "生气",
    "垃圾",
    "不满",
    "欺骗",
    "骗人",
    "没收到",
    "态度差",
    "太慢",
)
_ENGLISH_TOKEN = re.compile(r"[a-z]+")


def negative_words(text: str) -> list[str]:
    """The negative words `text` contains, English then Chinese, each once, in alphabetical/listed order."""
    tokens = set(_ENGLISH_TOKEN.findall(text.lower()))
    english = sorted(tokens & ENGLISH)
    chinese = [word for word in CHINESE if word in text]
    return english + chinese
