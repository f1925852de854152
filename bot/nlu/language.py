"""Telling Chinese text from the rest, for choosing encoders and entity patterns."""

import re

# CJK unified ideographs (with extension A) and compatibility ideographs.
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def has_chinese(text: str) -> bool:
    return CJK.search(text) is not None
