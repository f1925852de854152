"""Fine-tuning the English encoder, end to end on a small data set."""

import json

import pytest

from bot.nlu.interpreter import Interpreter
from bot.nlu.training import train_model

pytestmark = pytest.mark.integration


def test_finetuned_model_is_saved_loaded_and_predicts(tmp_path):
    rows = ["text,intent"]
    for i in range(6):
        rows += [f"hello number {i},greet", f"where is my order {i},order_status", f"refund me {i},refund"]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    directory = train_model(tmp_path / "train.csv", tmp_path / "models", lang="en", finetune=True, progress=False)
    meta = json.loads((directory / "meta.json").read_text())
    assert meta["routes"]["en"]["encoder"] == "encoder" and meta["settings"]["finetune"] is True
    assert (directory / "en" / "encoder").is_dir()
    interpreter = Interpreter.load(directory)
    assert interpreter.parse("where is my order please")["intent"]["name"] == "order_status"


def test_small_data_is_not_finetuned_by_default(tmp_path):
    (tmp_path / "train.csv").write_text("text,intent\nhi,greet\nhello,greet\nbye,goodbye\nsee you,goodbye\n")
    directory = train_model(tmp_path / "train.csv", tmp_path / "models", lang="en", progress=False)
    assert json.loads((directory / "meta.json").read_text())["settings"]["finetune"] is False
