"""Reliability: fuzzing every input surface, crash safety under kill -9, and the bounds on time,
size and memory. The long versions are scripts in benchmarks/ (fuzz.py --examples 10000,
crash_safety.py, memory_batch.py); these are their quick, deterministic cuts for every test run.

Related tests elsewhere: kill -9 during `chemnamer batch` then --resume (test_batch.py), kill -9
during training then --resume through the CLI (test_finetune.py), two processes writing the store
(test_store.py); the faults (no Java, damaged model, read-only folder, disk full, two app instances)
are in test_faults.py.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chemnamer import chem, inputs
from chemnamer.model import loading
from chemnamer.model.tinydir import make_tiny_model
from chemnamer.model.generate import MAX_NEW_TOKENS, Generator, token_budget
from chemnamer.naming import Namer

pytestmark = pytest.mark.usefixtures("one_thread")

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "training" / "recipes" / "smoke.toml"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"chemnamer_bench_{name}", REPO / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, mod)
    spec.loader.exec_module(mod)
    return sys.modules[spec.name]


fuzz = _load("fuzz")


@pytest.fixture(scope="session")
def random_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.getbasetemp() / "tiny-random", "random")


@pytest.fixture(scope="session")
def ramble_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.getbasetemp() / "tiny-ramble", "ramble")


# --- fuzzing (quick budgets; `python benchmarks/fuzz.py --examples 10000` for the real run) ---------

QUICK = {"parser": 150, "opsin": 80, "files": 150, "batch": 120, "recipe": 150, "namer": 10}


@pytest.mark.parametrize("target", list(QUICK))
def test_fuzz(target, tmp_path, home, random_model):
    from chemnamer.opsin import get_opsin

    if target == "opsin" and not get_opsin().available():
        pytest.skip(f"OPSIN unavailable here: {get_opsin().unavailable_reason}")
    f = fuzz.Fuzz(tmp_path, derandomize=True, model_dir=random_model)
    try:
        getattr(f, target)(QUICK[target])
    except fuzz.Skipped as exc:
        pytest.skip(str(exc))
    assert f.count >= QUICK[target]


def test_fuzz_budgets_reach_the_total():
    plan = fuzz.budgets(10_000, list(fuzz.WEIGHTS))
    assert sum(plan.values()) >= 10_000 and set(plan) == set(fuzz.WEIGHTS)


# --- crash safety ----------------------------------------------------------------------------------

def test_batch_output_cut_at_any_byte_resumes_to_every_row_once(tmp_path):
    """kill -9 can stop a write anywhere: for every cut of a written output, resume_point + appending
    the rest gives each row exactly once, in order (the file-level half of batch crash safety), also
    with records that span lines (the user's multi-line cells), ';' and '\\r\\n' and a BOM."""
    from chemnamer import batchio

    columns = ["smiles", "id", "note"]
    header = batchio.output_columns(columns)
    rows = [["CCO", "m0", 'say "hi", ok', "ethanol", True, "model", -0.12345, "CCO", "LFQS", "ethanol", None, None],
            ["C1CC", "m1", "line\r\nbreak;", None, None, None, None, None, None, None, None, "invalid SMILES: x"],
            ["c1ccccc1", "m2", "ü,é\rold mac", "benzene", False, "model", -3.5, "c1ccccc1", "UHOV", "benzene",
             "benzene", None],
            ["O", "m3", "", "oxidane", None, "pubchem", None, "O", "XLYO", "water", None, None]]
    for dialect in ({}, {"delimiter": ";", "lineterminator": "\r\n", "bom": True}):
        path = tmp_path / "out.csv"
        w = batchio.CsvWriter(path, header, append=False, **dialect)
        w.write(rows[:2])
        w.flush()
        w.write(rows[2:])
        w.close()
        full = path.read_bytes()
        delimiter = dialect.get("delimiter", ",")
        for cut in range(len(full) + 1):
            path.write_bytes(full[:cut])
            k = batchio.resume_point(path, header, delimiter, ([str(c) for c in r[:3]] for r in rows))
            w = batchio.CsvWriter(path, header, append=True, **dialect)
            w.write(rows[k:])
            w.close()
            assert path.read_bytes() == full, (dialect, cut)
        with open(path, encoding="utf-8-sig", newline="") as fh:
            got = list(csv.reader(fh, delimiter=delimiter))
        assert got[0] == header and [g[:3] for g in got[1:]] == [r[:3] for r in rows]


_MOLBLOCK = ("\n     RDKit          2D\n\n  3  2  0  0  0  0  0  0  0  0999 V2000\n"
             "    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n"
             "    1.2990    0.7500    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n"
             "    2.5981   -0.0000    0.0000 O   0  0  0  0  0  0  0  0  0  0  0  0\n"
             "  1  2  1  0\n  2  3  1  0\nM  END\n")


# Found by fuzz.py: RDKit's ForwardSDMolSupplier lost records here; batchio now splits records itself.
@pytest.mark.parametrize("first", [">  <A>\nvalue\n", ">  <> (1)\nvalue\n\n"], ids=["no-blank-line", "empty-name"])
def test_batch_sdf_reader_loses_no_record(tmp_path, first):
    from chemnamer import batchio

    path = tmp_path / "three.sdf"
    path.write_text(_MOLBLOCK + first + "$$$$\n" + _MOLBLOCK + "$$$$\n" + _MOLBLOCK + "$$$$\n")
    source = batchio.open_input(path)
    assert len(list(source)) == 3 == source.count()


def _train_cli(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "chemnamer", "train", "--recipe", str(SMOKE), "--output", str(out),
            "--set", "model.base=tiny", "--set", "train.max_steps=8", "--set", "train.checkpoint_every=2",
            "--set", "train.eval_limit=1", "--set", "train.keep_checkpoints=2", *extra]


def test_kill_9_during_training(home, tmp_path):
    """kill -9 after the first checkpoint: the last checkpoint loads, the run becomes 'interrupted',
    the database is sound, and a resume continues from that checkpoint to completion."""
    from chemnamer.finetune.callbacks import Callback
    from chemnamer.recipe import load_recipe
    from chemnamer.finetune.trainer import RUN_FILE, STATE_FILE, latest_checkpoint, train
    from chemnamer.store import dispose_all, integrity_check, runs

    out = tmp_path / "run"
    env = dict(os.environ, CHEMNAMER_HOME=str(home), OMP_NUM_THREADS="1")
    proc = subprocess.Popen(_train_cli(out), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 1800  # the CI box may be starved by a training run
        while not list(out.glob(f"checkpoint-*/{STATE_FILE}")):
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint within the deadline"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    dispose_all()
    last = latest_checkpoint(out)
    saved = json.loads((last / RUN_FILE).read_text())
    loaded = loading.load(str(last), device="cpu")  # complete and loadable, wherever the kill landed
    assert loaded.vocab is not None
    # Complete: transformers fills a tensor missing from the file with fresh random values and only
    # warns, so every weight the model holds must come from the file, equal and finite.
    import torch
    from safetensors.torch import load_file

    stored = load_file(str(last / "model.safetensors"))
    held = loaded.model.state_dict()
    tied = {"lm_head.weight"} if loaded.model.config.tie_word_embeddings else set()
    assert set(held) - tied == set(stored)
    assert all(torch.equal(held[k], stored[k].to(held[k].dtype)) and torch.isfinite(stored[k]).all()
               for k in stored)
    assert integrity_check() == "ok"
    (run,) = runs.list_runs()
    assert run["status"] == "running" and runs.mark_interrupted() == 1
    assert runs.get_run(run["id"])["status"] == "interrupted"
    assert integrity_check() == "ok"
    # Resume (in-process here; test_finetune.py resumes through `chemnamer train --resume`).
    cfg = load_recipe(SMOKE, ["model.base=tiny", "train.max_steps=8", "train.checkpoint_every=2", "train.eval_limit=1",
                              "train.keep_checkpoints=2"])
    seen = []

    class Steps(Callback):
        def on_step(self, state):
            seen.append(state.step)

    res = train(cfg, [Steps()], output_dir=out, resume=True)
    assert res.status == "completed" and res.state.step == 8 and res.run_id == run["id"]
    assert seen[0] == saved["step"] + 1  # continued after the checkpoint, not from the start
    assert runs.get_run(run["id"])["status"] == "completed"
    assert integrity_check() == "ok"


# --- bounds: input size ----------------------------------------------------------------------------

def test_input_size_limits():
    limit = chem.MAX_INPUT_CHARS
    assert inputs.parse_input("x" * (limit + 1)).message == f"input too long: {limit + 1} characters (limit {limit})"
    assert "input too long" not in inputs.parse_input("x" * limit).message  # the limit itself is allowed
    assert inputs.parse_input(" " * 5000 + "CCO" + "\n" * 5000).smiles == "CCO"  # surrounding blanks do not count
    n = chem.MAX_HEAVY_ATOMS
    assert inputs.parse_input("C" * n).heavy_atoms == n
    assert inputs.parse_input("C" * (n + 1)).message == f"too large: {n + 1} heavy atoms (limit {n})"
    assert inputs.parse_input("C" * (n + 1) + ".O").message.startswith("too large")  # fragments count too


def test_name_length_limit():
    from chemnamer.opsin import MAX_NAME_CHARS, get_opsin

    o = get_opsin()
    if not o.available():
        pytest.skip(f"OPSIN unavailable here: {o.unavailable_reason}")
    long_name = "methyl" * (MAX_NAME_CHARS // 6 + 1)
    assert o.name_to_structure(long_name).error == f"name too long: {len(long_name)} characters"
    assert o.verify(long_name, "LFQSCWFLJHTTHZ-UHFFFAOYSA-N").verified is False
    r = inputs.parse_input(long_name + " ethanol")
    assert "name too long" in r.message and len(r.message) < 300


def test_too_large_input_costs_no_model_time(random_model, home):
    namer = Namer(str(random_model), beams=4)
    r = namer.name("C" * (chem.MAX_HEAVY_ATOMS + 50))
    assert r.error.startswith("too large") and r.candidates == [] and "generate" not in r.ms
    assert r.id is not None  # failed inputs are stored too


# --- bounds: generated length and time per molecule ------------------------------------------------

class Spy:
    """Records how many tokens each generation produced (fast decoder and HF generate alike)."""

    def __init__(self, gen: Generator):
        self.lengths: list[int] = []
        fast = gen._fast()
        if fast is not None:
            greedy, beam = fast.greedy, fast.beam

            def spy_greedy(*args, **kwargs):
                out = greedy(*args, **kwargs)
                self.lengths += [len(h.tokens) + h.complete for hyps in out for h in hyps]
                return out

            def spy_beam(*args, **kwargs):
                out = beam(*args, **kwargs)
                self.lengths += [len(h.tokens) + h.complete for hyps in out for h in hyps]
                return out

            fast.greedy, fast.beam = spy_greedy, spy_beam
        if not hasattr(gen.model, "generate"):  # loaded without transformers: the fast decoder only
            return
        generate = gen.model.generate

        def spy_generate(*args, **kwargs):
            out = generate(*args, **kwargs)
            self.lengths += [int(out.sequences.shape[1] - kwargs["input_ids"].shape[1])] * out.sequences.shape[0]
            return out

        gen.model.generate = spy_generate


BIG = "CC(C)(C)c1ccc(cc1)" * 8 + "C" * 40  # ~128 heavy atoms: its bound is MAX_NEW_TOKENS itself


@pytest.mark.parametrize("fast", [True, False], ids=["fast-decoder", "hf-generate"])
@pytest.mark.parametrize("beams", [1, 3])
def test_generation_is_bounded_for_a_model_that_never_stops(ramble_model, fast, beams):
    loaded = loading.load(str(ramble_model), device="cpu")
    gen = Generator.from_loaded(loaded)
    if not fast:
        gen.use_fast = False
    spy = Spy(gen)
    for smiles in ("CCO", BIG):
        src = len(gen.encode(smiles))
        bound = token_budget(src)
        spy.lengths.clear()
        cands = gen.generate([smiles], beams=beams)
        assert spy.lengths and max(spy.lengths) == bound, (smiles, spy.lengths, bound)  # ran to the bound, no further
        assert all(len(gen.encode(c.name)) <= bound + 8 for c in cands[0])  # decoded text: same order of length
    assert token_budget(len(gen.encode(BIG))) == MAX_NEW_TOKENS


def test_worst_case_naming_is_bounded(ramble_model, home):
    """The slowest molecule: large, a model that never stops, every check on. Each stage has its bound:
    generation MAX_NEW_TOKENS, OPSIN MAX_NAME_CHARS per name, the rule-based name its timeout."""
    from chemnamer.rulebased import get_rule_namer

    get_rule_namer().start()
    namer = Namer(str(ramble_model), beams=4, mode="best", rule_timeout_s=2.0)
    namer.load()
    spy = Spy(namer._generator)
    t0 = time.perf_counter()
    r = namer.name(BIG)
    took = time.perf_counter() - t0
    assert r.error is None and r.smiles
    assert spy.lengths and max(spy.lengths) == MAX_NEW_TOKENS
    assert r.ms["rule_based"] <= 2000 + 3000, r.ms  # the timeout plus killing the worker
    assert all(c.verified is not True for c in r.candidates)
    assert took < 900, (took, r.ms)  # a hang detector; minutes only on a starved machine


# --- bounds: memory of batch naming ----------------------------------------------------------------

def test_batch_memory_is_flat_in_rows(tmp_path, home, capsys, monkeypatch):
    """Quick cut of benchmarks/memory_batch.py (peak RSS of fresh processes, 200 vs 2000 rows): the
    same batch in-process on 25 vs 250 rows of 10 kB each, measuring the peak of Python's own
    allocations (tracemalloc) from the moment the model is loaded. Keeping the rows or results
    would add 10 kB a row (2.2 MB more at 250); streaming keeps the peak where it was."""
    import tracemalloc

    from chemnamer.cli import main

    model = make_tiny_model(tmp_path / "tiny-stop", "stop")
    real_load = Namer.load

    def load_then_reset(self):  # what follows the model load is the per-row part
        loaded = real_load(self)
        if tracemalloc.is_tracing():
            tracemalloc.reset_peak()
        return loaded

    monkeypatch.setattr(Namer, "load", load_then_reset)
    smiles = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "C1CC", "c1ccncc1", "OC1CCCCC1"]
    peaks = {}
    for n in (3, 25, 250):  # 3: warms OPSIN, the reference table, the rule-based worker, the database
        src = tmp_path / f"in-{n}.csv"
        with open(src, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["smiles", "id", "payload"])
            for i in range(n):
                w.writerow([smiles[i % len(smiles)], f"m{i}", f"{i:05d}" + "x" * 10_000])
        tracemalloc.start()
        try:
            assert main(["batch", str(src), "-o", str(tmp_path / f"out-{n}.csv"), "--model", str(model),
                         "--beams", "1"]) == 0
            peaks[n] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        capsys.readouterr()
        with open(tmp_path / f"out-{n}.csv", encoding="utf-8", newline="") as fh:
            assert sum(1 for _ in csv.reader(fh)) == n + 1
    growth = peaks[250] - peaks[25]
    with capsys.disabled():
        print(f"\npeak Python allocations after model load: {peaks[25] / 2**20:.2f} MB at 25 rows, "
              f"{peaks[250] / 2**20:.2f} MB at 250 rows")
    assert growth < 1.0 * 2**20, peaks
