"""Test environment: an isolated CHEMNAMER_HOME per session, offline hub, offscreen Qt.

The user cache (converted SmolLM2 weights, reference table) stays shared: rebuilding it per test run
would cost minutes and test nothing new.
"""
import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
_home = tempfile.mkdtemp(prefix="chemnamer-test-home-")
os.environ["CHEMNAMER_HOME"] = _home

import pytest  # noqa: E402


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh CHEMNAMER_HOME for tests that need an empty database."""
    monkeypatch.setenv("CHEMNAMER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
