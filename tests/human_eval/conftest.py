"""Fixtures for human_eval: a toy study with real tiny videos, a database with tokens, an in-process app."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from human_eval.server import create_app
from human_eval.store import Store
from human_eval.study import load_study
from human_eval.toy import make_toy_study


@pytest.fixture(scope="session")
def toy_template(tmp_path_factory) -> Path:
    """A toy study (3 systems x 4 prompts, all pairs, 1 gold item), generated once."""
    return make_toy_study(tmp_path_factory.mktemp("toy") / "study", systems=3, prompts=4, gold=1)


@pytest.fixture
def study_dir(toy_template, tmp_path) -> Path:
    """A private copy of the toy study that a test may change."""
    import shutil
    return Path(shutil.copytree(toy_template, tmp_path / "study"))


@dataclass
class Running:
    client: TestClient
    store: Store
    tokens: list[str]
    admin: str
    db: Path


@pytest.fixture
def running(study_dir, tmp_path):
    """The real app in-process (Starlette TestClient), with three annotator tokens and an admin secret."""
    db = tmp_path / "votes.sqlite"
    store = Store(db)
    tokens = [t for _, t in store.create_tokens(3)]
    admin = store.create_tokens(1, "admin", role="admin")[0][1]
    app = create_app(load_study(study_dir), store, seed=0)
    with TestClient(app) as client:
        yield Running(client, store, tokens, admin, db)
    store.close()
