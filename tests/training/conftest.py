import json
import random

import pytest

from tests.tiny_models import save_tiny

WORDS = ["dog", "truck", "ring", "lake"]
CLASSES = {"a number": "[0-9]", "a capital letter": "[A-Z]", "a vowel": "[AEIOUaeiou]", "a character": "."}


def write_regex_data(path, n, seed=0):
    """Small NL-RX-like pairs: 'lines with the string X before Y' -> (X).*(Y).*"""
    rng = random.Random(seed)
    with path.open("w") as handle:
        for _ in range(n):
            word, (name, cls) = rng.choice(WORDS), rng.choice(sorted(CLASSES.items()))
            turns = [
                {"role": "system", "content": "Convert natural language to regular expression."},
                {"role": "user", "content": f"lines with the string '{word}' before {name}"},
                {"role": "assistant", "content": f"({word}).*({cls}).*"},
            ]
            handle.write(json.dumps({"messages": turns}) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("tiny") / "model", "chatml", seed=0)


@pytest.fixture(scope="session")
def train_file(tmp_path_factory):
    return write_regex_data(tmp_path_factory.mktemp("data") / "train.jsonl", 48)
