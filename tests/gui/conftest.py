"""GUI test fixtures: a tiny random model on disk, one torch thread, a main window on it."""
from __future__ import annotations

import pytest

from guihelpers import GapMeter


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    import gc

    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared, busy machine: oversubscribed threads are ~10x slower
    yield
    torch.set_num_threads(before)
    gc.enable()  # the GUI turns automatic GC off while its workers run; never leak that to other tests


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """SmolLM2's tokenizer on a random 2-layer Llama: loads in a second, names nonsense quickly."""
    from chemnamer.finetune.modelprep import base_tokenizer, tiny_model

    out = tmp_path_factory.mktemp("tiny-model")
    tok = base_tokenizer()
    tiny_model(tok).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture
def window(qtbot, tiny_dir, monkeypatch):
    """The main window on the tiny model, model loaded."""
    monkeypatch.setattr("chemnamer.gui.tasks.default_threads", lambda: 1)
    from chemnamer.gui.app import build, make_app

    make_app()
    session, win = build(str(tiny_dir), "cpu")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: session.namer is not None, timeout=120_000)
    yield win
    win.close()


@pytest.fixture
def gap_meter():
    return GapMeter()
