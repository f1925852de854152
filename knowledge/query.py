"""Reading a shopper's message into the question(s) to answer.

Shoppers write "Hi!\\nWhere is your store?", "retrun polcy?", a long story
with the question at the end, or two questions in one message. Retrieval
should see what is asked, so before searching:

- a leading greeting or pleasantry is dropped ("hi, ...", "你好，...");
- in a long message, the question sentences are kept (else the last ones);
- misspelt words are corrected against the store's own vocabulary first,
  then English (SymSpell, `symspellpy`; chat shorthand such as "u" is
  expanded from a small table);
- a message with two questions is split into its parts, each answered from
  its own passage (`split_parts`).

Nothing here changes what the shopper is told: the corrected text is only
searched with; the answer is always the store's own sentences.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from knowledge.lexical import STOP_WORDS

_GREETING = re.compile(
    r"^\s*(?:(?:hi|hello|hey|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day)"
    r"|dear (?:team|support|sir|madam))"
    r"(?:\s+(?:there|team|all|guys|folks|everyone))?\b[\s,!.:;~-]*"
    r"|(?:你好|您好|嗨|哈喽|哈啰|早上好|下午好|晚上好|在吗|在不在)[\s，,！!。.~～？?]*)+",
    re.IGNORECASE)
_PLEASANTRY = re.compile(
    r"^\s*(?:(?:quick question|i have a question|i've got a question|just wondering|one more thing|sorry to bother you|"
    r"excuse me|please|pls|plz|hmm+|um+|ok(?:ay)?|so|well)\b[\s,!.:;-]*|(?:请问|想问一下|问一下|打扰一下)[\s，,：:]*)+",
    re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?。！？\n]+[.!?。！？]*", re.UNICODE)
LONG_MESSAGE_CHARS = 300  # longer messages are cut down to their question sentences
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
# Chat shorthand no spelling corrector can guess (edit distance too large for 1-2 letter words).
SHORTHAND = {"u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "thx": "thanks",
             "ty": "thank you", "wanna": "want to", "gonna": "going to", "cuz": "because", "bc": "because",
             "b4": "before", "2day": "today", "tmrw": "tomorrow", "tho": "though", "abt": "about",
             "wat": "what", "wut": "what", "hw": "how", "whr": "where", "y": "why", "n": "and",
             "im": "I'm", "dont": "don't", "cant": "can't", "wont": "won't", "doesnt": "doesn't",
             "didnt": "didn't", "isnt": "isn't", "arent": "aren't"}


# Abbreviations shoppers write and stores spell out; the expansion is added beside them for searching.
ABBREVIATIONS = {"uk": "United Kingdom", "us": "United States", "usa": "United States", "eu": "European Union",
                 "intl": "international", "int'l": "international", "asap": "as soon as possible",
                 "po": "post office", "qty": "quantity", "pkg": "package", "acct": "account", "addr": "address"}
_ABBREVIATION = re.compile(r"\b(" + "|".join(re.escape(a) for a in ABBREVIATIONS) + r")\b", re.IGNORECASE)


def expand_abbreviations(text: str) -> str:
    """`text` with common abbreviations followed by what they stand for ("UK" -> "UK (United Kingdom)");
    "us" only when written in capitals (else it is the pronoun)."""
    def expand(m: re.Match) -> str:
        word = m.group()
        if word.lower() == "us" and word != "US":
            return word
        return f"{word} ({ABBREVIATIONS[word.lower()]})"
    return _ABBREVIATION.sub(expand, text)


def strip_greeting(text: str) -> str:
    """`text` without a leading greeting or pleasantry, when a question follows it
    ("Hi!\\nWhere is your store?" -> "Where is your store?"); a bare greeting stays."""
    rest = _PLEASANTRY.sub("", _GREETING.sub("", text, count=1), count=1).strip()
    return rest if re.search(r"\w", rest) else text.strip()


def sentences(text: str) -> list[str]:
    """The sentences of `text` (English or Chinese punctuation, or line breaks)."""
    return [s.strip() for s in _SENTENCE.findall(text) if re.search(r"\w", s)]


def focus(text: str, limit: int = LONG_MESSAGE_CHARS) -> str:
    """What a long message asks: its question sentences (else its last two
    sentences), at most about `limit` characters from the end. Short text is
    returned unchanged."""
    if len(re.sub(r"\s+", " ", text).strip()) <= limit:
        return text.strip()
    parts = [re.sub(r"\s+", " ", s) for s in sentences(text)]  # a line break ends a sentence
    asked = [s for s in parts if s.endswith(("?", "？")) or re.match(
        r"(?i)(how|what|when|where|which|who|why|can|could|do|does|did|is|are|will|would|should)\b", s)]
    kept: list[str] = []
    for s in reversed(asked or parts[-2:]):
        if kept and sum(map(len, kept)) + len(s) > limit:
            break
        kept.insert(0, s)
    return " ".join(kept) or text[-limit:]


# A second question joined to the first inside one sentence: "..., and are returns free?", "还有..."
_JOIN = re.compile(
    r"(?:[,;]\s*|\s+)(?:and|also|plus|but)\s*,?\s+(?=(?:how|what|when|where|which|who|why|can|could|do|does|did|is|"
    r"are|will|would|should|may)\b)"
    r"|[；;]\s*(?=还有|另外|以及|那)|(?:，|,)\s*(?=还有|另外)", re.IGNORECASE)
_QUESTION_START = re.compile(r"^(?:also|and|plus|but|so)?[\s,]*(?:how|what|when|where|which|who|why|can|could|do|does|"
                             r"did|is|are|will|would|should|may|any)\b", re.IGNORECASE)
_CHINESE_QUESTION = re.compile(r"吗|呢|多少|怎么|什么|哪|几|是否|能不能|可不可以|有没有|要不要|多久|如何")


def is_question(text: str) -> bool:
    """True for a sentence that asks something (a question mark, a question word first, or 吗/呢/多少...)."""
    text = text.strip()
    return text.endswith(("?", "？")) or bool(_QUESTION_START.match(text) or _CHINESE_QUESTION.search(text))


def split_parts(text: str, min_words: int = 3) -> list[str]:
    """The separate questions in one message (at most three), or [text] when
    there is one. A statement stays with the question after it ("paid cash
    at the shop. if I return it, do I get cash back?" is one part); each part
    has at least `min_words` words (or 4 Chinese characters)."""
    pieces = []
    for sentence in sentences(text):
        pieces += [p.strip(" ,;，；") for p in _JOIN.split(sentence) if p and p.strip(" ,;，；")]
    parts, pending = [], ""
    for piece in pieces:
        pending = f"{pending}\n{piece}".strip()  # a line break keeps the sentences apart for `sentences`
        if is_question(piece):
            parts.append(pending)
            pending = ""
    if pending and parts:
        parts[-1] = f"{parts[-1]}\n{pending}"

    def big_enough(part: str) -> bool:
        return len(_WORD.findall(part)) >= min_words or len(re.findall(r"[\u3400-\u9fff]", part)) >= 4

    parts = [p for p in parts if big_enough(p)]
    return parts[:3] if len(parts) >= 2 else [text]


@lru_cache(maxsize=1)
def _english_symspell():
    """SymSpell over its bundled English frequency list: loaded once per process (a few seconds)."""
    from importlib.resources import files

    from symspellpy import SymSpell

    symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    symspell.load_dictionary(str(files("symspellpy") / "frequency_dictionary_en_82_765.txt"), 0, 1)
    return symspell


class SpellingCorrector:
    """Corrects misspelt English words in a question, preferring the store's
    own words: "retrun polcy" -> "return policy", "paypall" -> "paypal".

    Two SymSpell dictionaries (symspellpy): the store's knowledge words,
    looked up first, and SymSpell's English frequency list (82,765 words from
    Google Books / SCOWL), shared by every store in the process. A word is
    changed only when it is in neither, within edit distance 2 (1 for words
    of up to 4 letters). Words with digits, and Chinese, are left alone."""

    def __init__(self, texts: list[str]):
        from symspellpy import SymSpell

        self._english = _english_symspell()
        self.english = self._english.words
        self.store_words: set[str] = set()
        for text in texts:
            self.store_words.update(w.lower() for w in _WORD.findall(text))
        self._store = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word in self.store_words:
            self._store.create_dictionary_entry(word, 1)
        self._lock = threading.Lock()

    def correct_word(self, word: str) -> str:
        from symspellpy import Verbosity

        lower = word.lower()
        if lower in SHORTHAND:
            return SHORTHAND[lower]
        if len(lower) <= 2 or lower in self.store_words or lower in self.english:
            return word
        distance = 1 if len(lower) <= 4 else 2
        with self._lock:  # symspellpy keeps scratch state per lookup
            for symspell in (self._store, self._english):
                found = symspell.lookup(lower, Verbosity.CLOSEST, max_edit_distance=distance)
                if found:
                    return found[0].term
        return word

    def correct(self, text: str) -> str:
        """`text` with each misspelt word replaced; everything else unchanged."""
        return _WORD.sub(lambda m: self.correct_word(m.group()), text)


def content_words(text: str) -> list[str]:
    """Lower-case English words of `text` that are not stop words."""
    return [w for w in (x.lower() for x in _WORD.findall(text)) if w not in STOP_WORDS and len(w) > 1]
