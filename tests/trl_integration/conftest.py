import json

import pytest

from tests.tiny_models import save_tiny
from tests.training.conftest import write_regex_data


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("tiny") / "model", "chatml", seed=0)


@pytest.fixture(scope="session")
def train_file(tmp_path_factory):
    return write_regex_data(tmp_path_factory.mktemp("data") / "train.jsonl", 24)


def as_format(record: dict, form: str) -> dict:
    """A messages row in one of TRL's formats: messages, prompt-completion turns, or strings."""
    turns = record["messages"]
    if form == "messages":
        return {"messages": turns}
    if form == "prompt-completion":
        return {"prompt": turns[:-1], "completion": turns[-1:]}
    return {"prompt": turns[-2]["content"], "completion": " " + turns[-1]["content"]}


@pytest.fixture(scope="session")
def rows(train_file):
    def make(form: str = "messages") -> list[dict]:
        return [as_format(json.loads(line), form) for line in train_file.read_text().splitlines()]

    return make
