"""Fine-tuning (transformers.Trainer, chemnamer.finetune.trainer) on the tiny random model: each test trains for seconds on the smoke recipe.

The smoke recipe's data split is built once per machine (cached in the user cache dir); every test
gets its own CHEMNAMER_HOME, so each sees an empty runs database.
"""
from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from chemnamer.finetune.callbacks import Callback, CancelToken
from chemnamer.recipe import ConfigError, load_recipe
from chemnamer.finetune.trainer import RUN_FILE, STATE_FILE, train

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "training" / "recipes" / "smoke.toml"


def smoke(*overrides: str):
    # Small evaluations: greedy decoding of a random model runs to max_new_tokens.
    return load_recipe(SMOKE, ["train.eval_limit=2", *overrides])


class Recorder(Callback):
    def __init__(self):
        self.info, self.steps, self.evals = {}, [], []

    def on_start(self, state, info):
        self.info = info

    def on_log(self, state, logs):
        self.steps += [(r["step"], r["loss"]) for r in logs]

    def on_evaluate(self, state, split, decoding, metrics):
        self.evals.append((state.step, metrics))


def weights(ckpt: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(ckpt / "model.safetensors"))


# --- training ---------------------------------------------------------------------------------
def test_loss_decreases(home, tmp_path):
    rec = Recorder()
    res = train(smoke("train.max_steps=12", "train.log_every=1", "train.scheduler=constant"), [rec],
                output_dir=tmp_path / "run", log_to_db=False)
    assert res.status == "completed" and res.state.step == 12
    losses = [loss for _, loss in rec.steps]
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.5, losses


@pytest.mark.parametrize("augment, saved, crash, end", [("none", 5, 7, 10), ("random", 18, 20, 22)])
def test_resume_matches_uninterrupted_run(home, tmp_path, augment, saved, crash, end):
    """Augmented: the crash and the resume are in the second epoch (16 steps each), whose SMILES forms
    are drawn anew; the resumed run must draw the same ones."""
    args = (f"train.max_steps={end}", f"train.checkpoint_every={saved}", "train.keep_checkpoints=5",
            "train.log_every=1", f"data.augment={augment}")
    ref = Recorder()
    train(smoke(*args), [ref], output_dir=tmp_path / "a", log_to_db=False)

    class Crash(Callback):  # the in-process equivalent of kill -9 after the checkpoint
        def on_step(self, state):
            if state.step == crash:
                raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        train(smoke(*args), [Crash()], output_dir=tmp_path / "b", log_to_db=False)
    assert json.loads((tmp_path / "b" / f"checkpoint-{saved}" / STATE_FILE).read_text())["global_step"] == saved
    rec = Recorder()
    res = train(smoke(*args), [rec], output_dir=tmp_path / "b", resume=True, log_to_db=False)
    assert res.status == "completed" and res.state.step == end
    # Same data order (seed + epoch), batches already done are skipped: identical trajectory.
    assert [s for s, _ in rec.steps] == [s for s, _ in ref.steps[saved:]] == list(range(saved + 1, end + 1))
    assert [loss for _, loss in rec.steps] == pytest.approx([loss for _, loss in ref.steps[saved:]], rel=1e-5)
    a, b = weights(tmp_path / "a" / f"checkpoint-{end}"), weights(tmp_path / "b" / f"checkpoint-{end}")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_each_epoch_shows_every_molecule_under_a_new_smiles_form(home):
    """Augmented training draws the forms again each epoch (EpochBatches tags each index with its epoch,
    EpochRows re-makes that epoch's rows): the same molecule and name, another valid SMILES."""
    from rdkit import Chem

    from chemnamer.data.build import build_splits
    from chemnamer.data.formatting import Template
    from chemnamer.finetune.trainer import EpochBatches, EpochRows, augmented_rows, tokenize_examples
    from chemnamer.data.formatting import format_pairs
    from chemnamer.model.loading import base_tokenizer

    cfg = smoke("data.augment=random")
    pairs = build_splits(cfg.data)[0]
    template = Template(cfg.format.instruction, cfg.format.response_marker)
    tok = base_tokenizer()
    encode = lambda text: tok.encode(text, add_special_tokens=False)  # noqa: E731
    encoded, kept = tokenize_examples(format_pairs(pairs, template), encode, tok.eos_token_id, 256)
    base = [{"input_ids": ids, "labels": labels} for ids, labels in encoded]
    rows = EpochRows(base, augmented_rows(pairs, kept, base, template, cfg, encode, tok.eos_token_id))
    batches = EpochBatches([len(r["input_ids"]) for r in base], 16, seed=0)
    by_epoch = []
    for epoch in range(3):
        batches.set_epoch(epoch)
        seen = {i % len(base): rows[i] for b in batches for i in b}
        assert sorted(seen) == list(range(len(base)))  # every row once an epoch
        by_epoch.append([seen[i] for i in range(len(base))])

    def smiles_and_name(row):
        text = tok.decode(row["input_ids"][:-1])
        prompt, name = text.split(cfg.format.response_marker)
        return prompt.removeprefix("SMILES: "), name

    changed = 0
    for first, second, third in zip(*by_epoch):
        (s0, n0), (s1, n1), (s2, n2) = map(smiles_and_name, (first, second, third))
        assert n0 == n1 == n2
        keys = {Chem.MolToInchiKey(Chem.MolFromSmiles(s)) for s in (s0, s1, s2)}
        assert len(keys) == 1, (s0, s1, s2)
        changed += len({s0, s1, s2}) > 1
    assert changed >= 0.7 * len(base), changed  # 5 forms: most molecules get another one
    assert rows[len(base) + 3] == by_epoch[1][3]  # re-made once per epoch, then kept


def test_cancel_leaves_checkpoint_and_status(home, tmp_path):
    from chemnamer.store import runs

    token = CancelToken()

    class CancelAt3(Callback):
        def on_step(self, state):
            if state.step == 3:
                token.cancel()

    res = train(smoke("train.max_steps=20"), [CancelAt3()], cancel=token, output_dir=tmp_path / "run")
    assert res.status == "cancelled" and res.state.step == 3 and res.model_dir is None
    cks = runs.run_checkpoints(res.run_id)
    assert [(c["step"], c["kind"]) for c in cks] == [(3, "cancel")]
    assert json.loads((Path(cks[0]["path"]) / RUN_FILE).read_text())["kind"] == "cancel"
    run = runs.get_run(res.run_id)
    assert run["status"] == "cancelled" and run["model_id"] is None


def test_run_rows_and_registered_model(home, tmp_path):
    from chemnamer.model import loading
    from chemnamer.model.generate import Generator
    from chemnamer.store import runs

    res = train(smoke(), output_dir=tmp_path / "run")  # the whole recipe: 2 epochs of 16 steps
    assert res.status == "completed" and res.model_id == f"run-{res.run_id}"
    run = runs.get_run(res.run_id)
    assert run["status"] == "completed" and run["model_id"] == res.model_id
    assert run["final_metrics"]["n"] == 2 and 0 <= run["final_metrics"]["levenshtein"] <= 1
    steps = runs.run_steps(res.run_id)
    assert [s["step"] for s in steps] == list(range(4, 33, 4)) and all(s["loss"] > 0 for s in steps)
    evals = runs.run_metrics(res.run_id)
    assert [(m["step"], m["split"], m["decoding"]) for m in evals] == [(16, "valid", "greedy"), (32, "valid", "greedy")]
    kinds = [c["kind"] for c in runs.run_checkpoints(res.run_id)]
    assert kinds[-1] == "final" and "epoch" in kinds and "step" in kinds
    # keep_checkpoints = 2: older checkpoint folders are pruned
    assert len(list((tmp_path / "run").glob("checkpoint-*"))) == 2

    loaded = loading.load(res.model_id, device="cpu")
    assert loaded.vocab is not None and loaded.template["response_marker"] == "\nIUPAC: "
    gen = Generator.from_loaded(loaded)
    ids, _, width = gen._batch(["CCO"])
    out = loaded.model.generate(input_ids=ids, max_new_tokens=6, do_sample=False, eos_token_id=None,
                                pad_token_id=gen.pad_id)
    assert len(gen.decode(out[0, width:])) > 0  # the trimmed model speaks text
    cands = gen.generate(["CCO", "c1ccccc1O"], beams=2, max_new_tokens=12)
    assert len(cands) == 2 and all(c.score <= 0 for cs in cands for c in cs)


def test_continued_training_starts_from_a_trimmed_model(home, tmp_path):
    """Stage 2 of a recipe: model.base = a fine-tuned, vocabulary-trimmed model. Its map is kept, its
    weights are the start (the first loss is stage 1's, not a random model's), and the result loads."""
    from chemnamer.model import loading
    from chemnamer.model.vocab import VocabMap

    first = Recorder()
    one = train(smoke("train.max_steps=24", "train.log_every=1", "train.scheduler=constant"), [first],
                output_dir=tmp_path / "stage1", log_to_db=False)
    stage1 = tmp_path / "stage1" / "model"
    second = Recorder()
    two = train(smoke(f"model.base={stage1}", "train.max_steps=4", "train.log_every=1"), [second],
                output_dir=tmp_path / "stage2", log_to_db=False)
    assert one.status == two.status == "completed"
    assert VocabMap.load(tmp_path / "stage2" / "model").kept == VocabMap.load(stage1).kept
    assert second.info["vocab"] == first.info["vocab"]
    assert second.steps[0][1] < first.steps[0][1] - 1.0, (first.steps[:2], second.steps[:2])
    loaded = loading.load(str(tmp_path / "stage2" / "model"), device="cpu")
    assert loaded.vocab is not None and loaded.model.config.num_hidden_layers == 2


def test_inversion_one_swaps_every_example(home, tmp_path):
    from chemnamer.data.build import build_splits
    from chemnamer.data.formatting import Template, format_pairs

    cfg = smoke("format.inversion=1.0", "train.max_steps=2")
    rec = Recorder()
    res = train(cfg, [rec], output_dir=tmp_path / "run", log_to_db=False)
    assert res.status == "completed"
    assert rec.info["inverted"] == rec.info["examples"] == 256
    train_pairs = build_splits(cfg.data)[0]
    examples = format_pairs(train_pairs, Template(cfg.format.instruction, cfg.format.response_marker), 1.0)
    assert all(e.inverted and e.response == p.source and p.target in e.prompt for e, p in zip(examples, train_pairs))


def test_early_stopping_with_patience(home, tmp_path):
    # A learning rate too small to change any prediction: the metric never improves after the first eval.
    rec = Recorder()
    res = train(smoke("train.lr=1e-12", "train.max_steps=30", "train.eval_every=1", "train.patience=2",
                      "train.early_stopping_metric=levenshtein"), [rec], output_dir=tmp_path / "run",
                log_to_db=False)
    assert res.status == "completed" and res.state.step == 3
    assert [s for s, _ in rec.evals] == [1, 2, 3, 3]  # three during training, then the final one
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()


# --- the process is killed ----------------------------------------------------------------------
def _cli(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "chemnamer", "train", "--recipe", str(SMOKE), "--output", str(out),
            "--set", "train.eval_limit=2", "--set", "train.checkpoint_every=2", *extra]


def test_killed_process_is_marked_interrupted_then_resumes(home, tmp_path):
    from chemnamer.store import runs

    out = tmp_path / "run"
    env = {**os.environ, "CHEMNAMER_HOME": str(home)}
    proc = subprocess.Popen(_cli(out), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob(f"checkpoint-*/{STATE_FILE}")):
            assert proc.poll() is None, "training ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    (run,) = runs.list_runs()
    assert run["status"] == "running"  # the DB cannot know yet
    assert runs.mark_interrupted() == 1
    assert runs.get_run(run["id"])["status"] == "interrupted"

    done = subprocess.run(_cli(out, "--resume"), env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed" and result["run_id"] == run["id"] and result["step"] == 32
    run = runs.get_run(run["id"])
    assert run["status"] == "completed" and run["model_id"] == f"run-{run['id']}"


# --- model surgery -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    from chemnamer.model.loading import base_tokenizer
    from chemnamer.model.tiny import tiny_model

    tok = base_tokenizer()
    return tiny_model(tok, seed=0).eval(), tok


TEXTS = ["SMILES: CC(=O)Oc1ccccc1C(=O)O\nIUPAC: 2-acetyloxybenzoic acid", "SMILES: CCO\nIUPAC: ethanol"]


def test_vocab_trim_keeps_logits_and_expand_restores(tiny):
    from chemnamer.model.vocab import VocabMap

    full, tok = tiny
    vocab = VocabMap.build(tok, TEXTS)
    assert 235 < len(vocab) < 400  # SmolLM2's 235-token byte alphabet + specials + the texts' tokens
    small = copy.deepcopy(full)
    vocab.apply(small)
    assert small.get_input_embeddings().weight.shape[0] == len(vocab) == small.config.vocab_size
    assert small.get_output_embeddings().weight is small.get_input_embeddings().weight  # still tied

    full_ids = tok.encode(TEXTS[0], add_special_tokens=False)
    small_ids = vocab.encode(tok, TEXTS[0])
    assert vocab.to_full(small_ids) == full_ids  # nothing falls back on a text the map was built from
    with torch.no_grad():
        ref = full(torch.tensor([full_ids])).logits[..., vocab.kept]
        got = small(torch.tensor([small_ids])).logits
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)

    # Byte fallback: tokens outside the kept set still round-trip as text.
    for text in ("SMILES: CCO zebra-quokka", "naïve µ-oxo 🧪"):
        ids = vocab.encode(tok, text)
        assert max(ids) < len(vocab)
        assert vocab.decode(tok, ids) == text

    # expand: trained rows go back to their places, the rest come from the base.
    with torch.no_grad():
        small.get_input_embeddings().weight.add_(0.01 * torch.randn_like(small.get_input_embeddings().weight))
        trimmed_logits = small(torch.tensor([small_ids])).logits
    base_emb = full.get_input_embeddings().weight
    big = copy.deepcopy(small)
    vocab.expand(big, base_emb)
    assert big.config.vocab_size == base_emb.shape[0] == len(tok)
    assert big.config.eos_token_id == tok.eos_token_id
    with torch.no_grad():
        big_logits = big(torch.tensor([full_ids])).logits
    torch.testing.assert_close(big_logits[..., vocab.kept], trimmed_logits, rtol=1e-5, atol=1e-5)
    untouched = torch.ones(len(tok), dtype=torch.bool)
    untouched[vocab.kept] = False
    torch.testing.assert_close(big.get_input_embeddings().weight[untouched], base_emb[untouched])

    restored = copy.deepcopy(full)
    vocab.apply(restored)
    vocab.expand(restored, base_emb)  # untrained round trip: the original model, every logit
    with torch.no_grad():
        torch.testing.assert_close(restored(torch.tensor([full_ids])).logits,
                                   full(torch.tensor([full_ids])).logits, rtol=1e-5, atol=1e-5)


def test_keep_layers(tiny):
    from chemnamer.recipe import ModelConfig
    from chemnamer.finetune.modelprep import prepare
    from chemnamer.model.surgery import decoder_layers, keep_layers

    full, _ = tiny
    model = copy.deepcopy(full)
    assert len(decoder_layers(model)) == 2
    keep_layers(model, 5)
    assert len(decoder_layers(model)) == 2  # k >= n: whole
    keep_layers(model, 1)
    assert len(decoder_layers(model)) == 1 and model.config.num_hidden_layers == 1
    with torch.no_grad():
        assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, model.config.vocab_size)
    with pytest.raises(ValueError):
        keep_layers(copy.deepcopy(full), -1)
    m, _, vocab, _ = prepare(ModelConfig(base="tiny", num_layers=1, trim_vocab=False), [])
    assert len(decoder_layers(m)) == 1 and vocab is None


def test_lora_trains_adapters_only_and_loads(home, tmp_path):
    from peft import PeftModel

    from chemnamer.model import loading
    from chemnamer.finetune.modelprep import prepare

    rec = Recorder()
    cfg = smoke("model.method=lora", "model.lora_r=4", "train.max_steps=6", "train.lr=1e-2",
                "model.num_layers=1")
    res = train(cfg, [rec], output_dir=tmp_path / "run")
    assert res.status == "completed"
    assert 0 < rec.info["trainable_params"] < rec.info["total_params"] / 2

    model, *_ = prepare(cfg.model, [], cfg.train.seed, None)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)

    model_dir = Path(res.model_dir)
    assert (model_dir / "adapter_config.json").is_file() and not (model_dir / "model.safetensors").exists()
    # Two independent paths to the trained model: the registry (adapter merged into a rebuilt,
    # sliced and trimmed base) and the adapter file put into a freshly prepared model. They must agree.
    loaded = loading.load(res.model_id, device="cpu")
    assert not isinstance(loaded.model, PeftModel) and len(loaded.model.model.layers) == 1
    from chemnamer.model.vocab import VocabMap

    vocab = VocabMap.load(model_dir)
    ref, *_ = prepare(cfg.model, [], cfg.train.seed, vocab)
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(ref, load_file(str(model_dir / "adapter_model.safetensors")))
    ref.eval()
    ids = torch.tensor([vocab.encode(loaded.tokenizer, "SMILES: CCO\nIUPAC: ")])
    with torch.no_grad():
        got, want = loaded.model(ids).logits, ref(ids).logits
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    # ... and the adapter moved the model away from its base
    base, *_ = prepare(cfg.model.__class__(**{**cfg.model.__dict__, "method": "full"}), [], cfg.train.seed, vocab)
    with torch.no_grad():
        assert (base.eval()(ids).logits - got).abs().max() > 1e-3


# --- recipe errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("body, words", [
    ("[train]\nlrr = 0.1\n", ["train.lrr", "unknown key"]),
    ("[trian]\nlr = 0.1\n", ["trian", "unknown key"]),
    ("[train]\nlr = 5.0\n", ["train.lr", "invalid value"]),
    ("[format]\ninversion = 1.5\n", ["format.inversion"]),
    ("[train]\nbatch_size = 'many'\n", ["train.batch_size", "expected int"]),
    ("[data.filters]\nmw_minn = 3\n", ["data.filters.mw_minn"]),
    ("[train\nlr = 1\n", []),  # TOML syntax error
])
def test_recipe_errors_name_file_and_key(tmp_path, body, words):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_recipe(path)
    msg = str(err.value)
    assert str(path) in msg
    for w in words:
        assert w in msg


def test_set_override_errors():
    with pytest.raises(ConfigError, match=r"--set.*train\.lr"):
        load_recipe(SMOKE, ["train.lr=2"])
    with pytest.raises(ConfigError, match="unknown key 'train.nope'"):
        load_recipe(SMOKE, ["train.nope=1"])
    assert load_recipe(SMOKE, ["train.lr=0.5"]).train.lr == 0.5



def test_stored_config_goes_through_the_recipe_parser():
    from chemnamer.recipe import RunConfig, config_from_dict

    stored = RunConfig().to_dict()
    stored["train"]["lr"], stored["_info"], stored["data"]["gone_setting"] = 1e-4, {"run": 3}, 1
    assert config_from_dict(stored).train.lr == 1e-4  # keys this version does not know are skipped
    stored["train"]["batch_size"] = "many"  # ... but a value of the wrong type is an error, as in a recipe
    with pytest.raises(ConfigError, match=r"stored config: train\.batch_size: expected int"):
        config_from_dict(stored)

# --- CLI: eval and runs ---------------------------------------------------------------------------
def test_eval_and_runs_commands(home, tmp_path, capsys):
    from chemnamer.cli import main
    from chemnamer.data.records import Pair, write_jsonl
    from chemnamer.store import runs

    res = train(smoke("train.max_steps=4"), output_dir=tmp_path / "run")
    from chemnamer.model.loading import read_meta

    assert read_meta(res.model_dir)["input_forms"] == "kekule"  # no augmentation: naming Kekulé-izes
    killed = runs.create_run("ghost", {}, None, "tiny", "full", {}, None)
    runs._own_runs.discard(killed)  # as if another, dead process had created it
    with runs.session() as s:
        from chemnamer.store.schema import Run

        s.get(Run, killed).pid = 0

    assert main(["runs", "--json"]) == 0  # marks the ghost interrupted first
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"]) for r in listed] == [(killed, "interrupted"), (res.run_id, "completed")]
    done = listed[1]
    assert done["steps"] == 4 and done["model_id"] == res.model_id and "levenshtein" in done["final_metrics"]
    assert main(["runs"]) == 0
    table = capsys.readouterr().out
    assert "interrupted" in table and res.model_id in table
    assert main(["runs", "--show", str(res.run_id)]) == 0
    shown = capsys.readouterr().out
    assert "metrics per epoch" in shown and "final" in shown
    assert main(["runs", "--show", "999"]) == 1

    pairs = [Pair("CCO", "ethanol", "LFQSCWFLJHTTHZ-UHFFFAOYSA-N"), Pair("C", "methane", "VNWKTOKETHGBQD-UHFFFAOYSA-N")]
    write_jsonl(pairs, tmp_path / "test.jsonl")
    (tmp_path / "test.csv").write_text("Name,SMILES\nethanol,CCO\nmethane,C\nbad,C1CC\n")
    for data in ("test.jsonl", "test.csv"):
        capsys.readouterr()
        assert main(["eval", "--model", res.model_id, "--data", str(tmp_path / data), "--json",
                     "--no-structures", "--limit", "2"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["n"] == 2 and out["model"] == res.model_id and out["seconds"] >= 0
        assert {"exact_match", "exact_match_ci", "levenshtein", "bleu"} <= out.keys()
    assert main(["eval", "--model", res.model_id, "--recipe", str(SMOKE), "--split", "valid", "--limit", "1",
                 "--no-structures"]) == 0
    text = capsys.readouterr().out
    assert "Levenshtein similarity" in text and "valid" in text
    assert main(["eval", "--model", res.model_id, "--data", str(tmp_path / "missing.csv")]) == 2

    # The generalization report: each set with n and standard errors, the drug-like one by size bin.
    write_jsonl([Pair("OC1=CC=CC=C1", "phenol", "ISWSIDIOOBJBQZ-UHFFFAOYSA-N"), *pairs], tmp_path / "gen.jsonl")
    capsys.readouterr()
    assert main(["eval", "--model", res.model_id, "--data", str(tmp_path / "gen.jsonl"), "--json", "--beams", "2",
                 "--sets", "test,aromatic,randomized,druglike", "--druglike-n", "3",
                 "--items", str(tmp_path / "items.jsonl")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["beams"], list(report["sets"])) == (2, ["test", "aromatic", "randomized", "druglike"])
    for name, r in report["sets"].items():
        assert r["n"] == 3 and {"structure_correct", "structure_correct_se"} <= r.keys(), name
        assert ("exact_match_ci" in r) == (name != "druglike")  # MOSES molecules have no reference name
        assert sum(b["n"] for b in r["by_bin"].values()) == 3, name  # every set by heavy-atom bin
    assert list(report["sets"]["test"]["by_bin"]) == ["<=15"]  # phenol and the smoke molecules are small
    items = [json.loads(line) for line in (tmp_path / "items.jsonl").read_text().splitlines()]
    assert [i["set"] for i in items] == ["test"] * 3 + ["aromatic"] * 3 + ["randomized"] * 3 + ["druglike"] * 3
    assert items[0]["smiles"] == "OC1=CC=CC=C1" and items[0]["reference"] == "phenol" and items[0]["bin"] == "<=15"
    for item, name in zip(items, ("test",) * 3 + ("aromatic",) * 3 + ("randomized",) * 3 + ("druglike",) * 3):
        assert item["exact"] == (item["name"].lower() == item["reference"].lower() != ""), item
    assert sum(i["structure_correct"] for i in items if i["set"] == "test") == round(3 * report["sets"]["test"]["structure_correct"])
    assert report["saved_to_run"] == res.run_id  # kept with the run that trained the model
    assert main(["runs", "--show", str(res.run_id), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["generalization"]["druglike"]["n"] == 3 and shown["generalization"]["aromatic"]["beams"] == 2
    assert all(m["split"] in ("valid", "test") for m in shown["epoch_metrics"])
    assert main(["runs", "--show", str(res.run_id)]) == 0
    text = capsys.readouterr().out
    assert "generalization (chemnamer eval --sets, 2 beams, SMILES forms: " in text and "atoms 16-25" in text
    from chemnamer.gui.runs_tasks import run_curves, runs_overview

    assert [r["generalization"] for r in runs_overview() if r["id"] == res.run_id] == [shown["generalization"]]
    assert all(split in ("valid", "test") for *_, split, _d, _m in run_curves(None, [res.run_id])[res.run_id]["metrics"])
    assert main(["eval", "--model", res.model_id, "--sets", "aromatic"]) == 2  # no molecules to rewrite
    assert main(["eval", "--model", res.model_id, "--sets", "druglike", "--forms", "0"]) == 2
    assert main(["eval", "--model", res.model_id, "--recipe", str(SMOKE), "--forms", "2"]) == 2  # only with --sets
    assert "--forms must be >= 1 and goes with --sets" in capsys.readouterr().err
    assert main(["eval", "--model", res.model_id, "--recipe", str(SMOKE), "--items", str(tmp_path / "x.jsonl")]) == 2
    assert "--items goes with --sets" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["eval", "--model", res.model_id, "--recipe", str(SMOKE), "--split", "valid", "--sets", "test",
                 "--limit", "1", "--json"]) == 0
    assert "saved_to_run" not in json.loads(capsys.readouterr().out)  # validation chooses; it is not a result
    assert [r["generalization"] for r in runs_overview() if r["id"] == res.run_id] == [shown["generalization"]]


def test_schedule_epoch_checkpoints_and_saved_config(home, tmp_path):
    """The recipes' warm-up reaches lr·(step+1)/warmup (the first step trains); an epoch end the step
    grid also saved is still recorded as an epoch checkpoint; saved configs generate with a cache."""
    from chemnamer.store import runs

    rec = Recorder()
    lrs = []

    class Lr(Callback):
        def on_log(self, state, logs):
            lrs.extend(r["lr"] for r in logs)

    res = train(smoke("train.max_steps=24", "train.log_every=1", "train.checkpoint_every=8",
                      "train.keep_checkpoints=0"), [rec, Lr()], output_dir=tmp_path / "run")
    assert res.status == "completed"
    cfg = smoke()
    assert lrs[0] == pytest.approx(cfg.train.lr * 2 / cfg.train.warmup_steps)  # after step 1 of warm-up 4
    kinds = [(c["step"], c["kind"]) for c in runs.run_checkpoints(res.run_id)]
    assert kinds == [(8, "step"), (16, "step"), (16, "epoch"), (24, "final")]
    assert [s for s, _ in rec.evals] == [16, 24]
    for folder in (tmp_path / "run" / "checkpoint-16", tmp_path / "run" / "model"):
        assert json.loads((folder / "config.json").read_text())["use_cache"] is True


def test_resume_refuses_checkpoints_of_the_old_training_loop(home, tmp_path):
    """A folder of checkpoints the hand-written loop wrote (trainer_state.json, no run file) is not
    silently trained over from step 0."""
    old = tmp_path / "run" / "checkpoint-0000300"
    old.mkdir(parents=True)
    (old / STATE_FILE).write_text(json.dumps({"step": 300, "epoch": 0.04}))
    with pytest.raises(ValueError, match="48b25e1"):
        train(smoke("train.max_steps=2"), output_dir=tmp_path / "run", resume=True, log_to_db=False)
