"""Chinese titles written by the LM at ingestion: cached, checked, and used by retrieval."""

import pytest

from knowledge.documents import Passage
from knowledge.retrieval import Retriever
from knowledge.translation import TitleTranslations
from lm.generation import GenerationTimeout

PASSAGES = [Passage("invoice", "Can I get an invoice for my order?", "Yes: download it from your account.", "x"),
            Passage("custom", "Do you make custom products?", "No, we do not.", "x"),
            Passage("wrap", "Do you offer gift wrapping?", "Yes, for 5 USD.", "x")]


class Translator:
    name = "scripted"

    def __init__(self, replies):
        self.replies, self.calls = replies, 0

    async def generate(self, messages, max_tokens, timeout):
        self.calls += 1
        reply = self.replies[messages[-1]["content"].rsplit("English: ", 1)[1]]
        if isinstance(reply, Exception):
            raise reply
        return reply


def test_titles_are_translated_once_and_bad_translations_dropped(tmp_path):
    model = Translator({PASSAGES[0].title: "我可以为我的订单开发票吗？",
                        PASSAGES[1].title: "No, we do not make custom products.",  # answered, in English
                        PASSAGES[2].title: GenerationTimeout("slow")})
    translations = TitleTranslations(tmp_path, model.name)
    translations.translate(PASSAGES, model)
    assert translations.get(PASSAGES[0].title) == "我可以为我的订单开发票吗？"
    assert translations.get(PASSAGES[1].title) is None and translations.get(PASSAGES[2].title) is None
    again = TitleTranslations(tmp_path, model.name)
    again.translate(PASSAGES, model)  # only the timed-out title is tried again
    assert model.calls == 4


@pytest.mark.integration
def test_a_translated_title_helps_a_chinese_question_find_the_english_passage(tmp_path, models):
    chinese = ["我可以为我的订单开发票吗？", None, None]
    retriever = Retriever(PASSAGES, tmp_path, chinese_titles=chinese)
    assert retriever.search("可以开发票吗？", 1)[0].passage.id == "invoice"
