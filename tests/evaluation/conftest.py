from __future__ import annotations

import pytest

from tests.evaluation.spider_fixture import build_databases


@pytest.fixture(scope="session")
def spider_db_dir(tmp_path_factory):
    """The fixture databases, built once per session from their SQL."""
    return build_databases(tmp_path_factory.mktemp("spider"))
