from __future__ import annotations

import pytest

from tests.evaluation.spider_fixture import build_databases
from tests.tiny_models import tiny_model, tiny_tokenizer


@pytest.fixture(scope="session")
def spider_db_dir(tmp_path_factory):
    """The fixture databases, built once per session from their SQL."""
    return build_databases(tmp_path_factory.mktemp("spider"))


@pytest.fixture(scope="module", params=["chatml", "llama3"])
def tiny(request):
    tokenizer = tiny_tokenizer(request.param)
    return tiny_model(tokenizer, seed=3).eval(), tokenizer
