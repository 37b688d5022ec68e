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


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """SmolLM2's tokenizer on a random 2-layer Llama, saved like a trained model: loads in a second,
    names nonsense quickly."""
    from chemnamer.model.loading import base_tokenizer
    from chemnamer.model.tiny import tiny_model

    out = tmp_path_factory.mktemp("tiny-model")
    tok = base_tokenizer()
    tiny_model(tok).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def one_thread():
    """One torch thread: on a shared, busy 2-core machine oversubscribed threads are ~10x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def opsin():
    """The process's OPSIN (the bootstrap installs Java, so it is there; a machine without Java skips
    with the reason rather than failing every data test)."""
    from chemnamer.opsin import get_opsin

    o = get_opsin()
    if not o.available():
        pytest.skip(f"OPSIN unavailable here: {o.unavailable_reason}")
    return o
