"""Model ids, loading (base from the cached conversion, local dirs, hub offline) and device choice."""
from __future__ import annotations

import time

import pytest
import torch

from chemnamer import paths
from chemnamer.model import loading
from chemnamer.model.loading import ModelError


def test_list_and_resolve(tiny_dir, tmp_path):
    ids = [s.id for s in loading.list_models()]
    assert ids[:2] == ["smollm2-135m", "default"]
    assert loading.resolve("smollm2-135m").kind == "base"
    assert loading.resolve(None).id == loading.resolve("default").id == "default"
    local = loading.resolve(str(tiny_dir))
    assert (local.kind, local.path) == ("local", str(tiny_dir))
    assert loading.resolve("HuggingFaceTB/SmolLM2-135M").kind == "hub"
    with pytest.raises(ModelError, match=r"unknown model 'nope' \(known: smollm2-135m, default"):
        loading.resolve("nope")
    with pytest.raises(ModelError, match="does not exist"):
        loading.resolve(str(tmp_path / "gone"))
    with pytest.raises(ModelError, match="is not a model directory"):
        loading.resolve(str(tmp_path))


def test_base_model_loads_from_cached_safetensors():
    t0 = time.perf_counter()
    loaded = loading.load("smollm2-135m", device="cpu")
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    loading.load("smollm2-135m", device="cpu")
    warm = time.perf_counter() - t0
    print(f"\nbase model load: first {cold:.1f} s, again {warm:.1f} s")
    assert (loading.paths.cache_dir() / "smollm2-135m-instruct" / "model.safetensors").is_file()
    assert loaded.spec.id == "smollm2-135m" and loaded.device == "cpu" and loaded.vocab is None
    assert loaded.model.config.num_hidden_layers == 30
    assert sum(p.numel() for p in loaded.model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    assert loaded.tokenizer.decode(loaded.tokenizer.encode("benzene")) == "benzene"


def test_local_dir_loads_and_generates(tiny_dir):
    from chemnamer.model.generate import Generator

    loaded = loading.load(str(tiny_dir), device="cpu")
    assert loaded.spec.kind == "local" and loaded.model.config.num_hidden_layers == 2
    cands = Generator.from_loaded(loaded).generate(["CCO", "c1ccccc1"], beams=2, max_new_tokens=8)
    assert len(cands) == 2 and all(len(c) <= 2 for c in cands)


def test_missing_or_damaged_dirs_are_model_errors(tmp_path, home):
    from chemnamer.store import registry

    with pytest.raises(ModelError, match="does not exist"):
        loading.load(str(tmp_path / "gone"))
    registry.register_model("run-1-final", tmp_path / "deleted", "smollm2-135m")
    with pytest.raises(ModelError, match=r"model 'run-1-final': .*deleted is missing or damaged"):
        loading.load("run-1-final")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="could not be loaded"):
        loading.load(str(tmp_path / "broken"))


def test_default_model_missing_or_empty_is_a_model_error(tmp_path, monkeypatch):
    """The repository ships the default; a package without it (or with an empty folder) must say so."""
    monkeypatch.setenv("CHEMNAMER_DEFAULT_MODEL", str(tmp_path / "gone"))
    assert loading.resolve("default").path == str(tmp_path / "gone")
    with pytest.raises(ModelError, match=r"the shipped model 'default' is not installed \(no .*gone\)"):
        loading.load("default")
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("CHEMNAMER_DEFAULT_MODEL", str(tmp_path / "empty"))
    with pytest.raises(ModelError, match=r"model 'default': .*empty is missing or damaged \(no config.json\)"):
        loading.load(None)  # no id: the default
    monkeypatch.delenv("CHEMNAMER_DEFAULT_MODEL")
    assert loading.resolve("default").path == str(paths.resources_dir() / "models" / "default")


def test_hub_id_offline_fails_fast():
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match=r"hub model 'someone/not-cached' could not be loaded \(offline"):
        loading.load("someone/not-cached", device="cpu")
    assert time.perf_counter() - t0 < 60  # huggingface_hub's retries with back-off would take minutes


def test_pick_device():
    assert loading.pick_device("cpu") == "cpu"
    auto = loading.pick_device(None)
    assert auto == loading.pick_device("auto")
    if torch.cuda.is_available():
        assert auto == "cuda" and loading.pick_device("cuda") == "cuda"
    else:
        assert auto in ("cpu", "mps")
        with pytest.raises(ModelError, match="CUDA is not available"):
            loading.pick_device("cuda")


def test_lite_load_names_exactly_like_transformers(tiny_dir):
    """Naming loads a plain Llama without transformers (cold start): same ids in, same names out."""
    from transformers import AutoTokenizer

    from chemnamer.model.fastllama import FastLlama
    from chemnamer.model.generate import Generator
    from chemnamer.model.litetokenizer import LiteTokenizer

    texts = ["CC(=O)Oc1ccccc1C(=O)O", "(2R)-2-aminopropanoic acid", "N,N-diméthyl — µ ✓", "SMILES: C\nIUPAC: "]
    lite, hf = LiteTokenizer(tiny_dir), AutoTokenizer.from_pretrained(tiny_dir)
    assert (lite.eos_token_id, lite.pad_token_id) == (hf.eos_token_id, hf.pad_token_id)
    for text in texts:
        ids = hf.encode(text, add_special_tokens=False)
        assert lite.encode(text) == ids
        assert lite.decode(ids + [hf.eos_token_id]) == hf.decode(ids + [hf.eos_token_id], skip_special_tokens=True)
        assert [lite.convert_ids_to_tokens(i) for i in ids] == hf.convert_ids_to_tokens(ids)

    fast = loading.load(str(tiny_dir), device="cpu", lite=True)
    slow = loading.load(str(tiny_dir), device="cpu")
    assert isinstance(fast.model, FastLlama) and not isinstance(slow.model, FastLlama)
    smiles = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O"]
    hf = Generator.from_loaded(slow)
    hf.use_fast = False  # transformers' own generate, not the lean decoder on the same weights
    for beams in (1, 3):
        # hypotheses, cut-off ones included: a random model never finishes a name within 10 tokens
        a = Generator.from_loaded(fast).hypotheses(smiles, beams=beams, max_new_tokens=10)
        b = hf.hypotheses(smiles, beams=beams, max_new_tokens=10)
        assert [[(t, c) for t, _, c in x] for x in a] == [[(t, c) for t, _, c in x] for x in b]
        assert [s for x in a for _, s, _ in x] == pytest.approx([s for x in b for _, s, _ in x], abs=1e-4)


def test_lite_load_falls_back_for_other_models(tmp_path, tiny_dir):
    """Not a plain Llama (here: a config the lean decoder does not compute): transformers loads it."""
    import json
    import shutil

    from chemnamer.model.fastllama import FastLlama

    other = tmp_path / "biased"
    shutil.copytree(tiny_dir, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["mlp_bias"] = True  # its weights lack the biases: transformers initializes them
    (other / "config.json").write_text(json.dumps(cfg))
    loaded = loading.load(str(other), device="cpu", lite=True)
    assert not isinstance(loaded.model, FastLlama)
