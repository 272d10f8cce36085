"""The word lists and the tokeniser of the voice of the customer (services/analytics/voice), without a database."""

from __future__ import annotations

from services.analytics.voice import negative_words, terms, top_terms
from services.analytics.voice.negative import CHINESE, ENGLISH


def test_english_negative_words_match_whole_words_in_any_case() -> None:
    assert negative_words("The lid is BROKEN and the staff were rude.") == ["broken", "rude"]
    assert negative_words("My badge came with the order, thanks!") == []  # "bad" is not in "badge"
    assert negative_words("Worst. Service. Ever. Worst!") == ["worst"]
    # Negations are not parsed: the reader decides.
    assert negative_words("Not bad at all") == ["bad"]


def test_chinese_negative_words_match_anywhere_in_the_text() -> None:
    assert negative_words("客服态度差，我很失望") == ["失望", "态度差"]
    assert negative_words("这次的快递太慢了") == ["太慢"]
    assert negative_words("非常满意，谢谢") == []
    assert negative_words("Refund please, 包装破损") == ["refund", "破损"]


def test_the_word_lists_are_lower_case_and_without_duplicates() -> None:
    assert all(word == word.lower() and word.isalpha() for word in ENGLISH)
    assert len(set(CHINESE)) == len(CHINESE)


def test_terms_cut_chinese_with_jieba_and_drop_stop_words_digits_and_short_words() -> None:
    assert terms("The app keeps crashing, order 12345 应用总是闪退") == [
        ("en", "app"),
        ("en", "keeps"),
        ("en", "crashing"),
        ("en", "order"),
        ("zh", "应用"),
        ("zh", "总是"),
    ]
    # 我们 and 没有 are stop words, 了 and 的 single characters; curly apostrophes read as straight ones.
    assert terms("我们的会员积分没有了") == [("zh", "会员"), ("zh", "积分")]
    assert terms("I can’t log in to my account") == [("en", "log"), ("en", "account")]


def test_top_terms_count_per_category_and_language_most_first_then_alphabetically() -> None:
    counted = top_terms(
        [("app", "Login fails, login again fails"), ("app", "登录失败"), ("store", "Lovely staff")], limit=2
    )
    assert [(c.category, c.language, c.texts, [(t.term, t.count) for t in c.terms]) for c in counted] == [
        ("app", "en", 1, [("fails", 2), ("login", 2)]),
        ("app", "zh", 1, [("失败", 1), ("登录", 1)]),
        ("store", "en", 1, [("lovely", 1), ("staff", 1)]),
    ]
