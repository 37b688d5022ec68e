"""Faults from outside the code: no Java, a failing OPSIN, a stuck rule-based namer, a damaged model
folder, a read-only data folder, a full disk under a checkpoint, two app instances on one database.

Each fault must end in a clear message (a value, a note or one `error:` line, never a traceback),
naming must go on where it can, and nothing already stored may be lost. Subprocesses only where the
fault is per process (the JVM starts once per process; two instances are two processes); mounts
(read-only folder, small tmpfs) need root and are skipped, with the reason, elsewhere.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chemnamer.model import loading
from chemnamer.model.tinydir import make_tiny_model
from chemnamer.naming import Namer
from chemnamer.opsin import JAVA_MISSING, Opsin, get_opsin

pytestmark = pytest.mark.usefixtures("one_thread")

REPO = Path(__file__).resolve().parent.parent
ASPIRIN, ASPIRIN_KEY = "CC(=O)Oc1ccccc1C(=O)O", "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"


@pytest.fixture(scope="session")
def stop_model(tmp_path_factory):
    """A tiny model whose every generation ends at once: faults, not generation, are under test here."""
    return make_tiny_model(tmp_path_factory.getbasetemp() / "tiny-stop", "stop")


@pytest.fixture(scope="session")
def random_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.getbasetemp() / "tiny-random", "random")


def run_python(code: str, env: dict, timeout: float = 1800) -> dict:
    """Run code in a fresh interpreter; its last stdout line is JSON."""
    env = {**env, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text[-3000:]


# --- Java / OPSIN ----------------------------------------------------------------------------------

def test_java_missing_cli_names_with_null_verification(random_model, tmp_path):
    """`chemnamer name` without Java: SMILES are named (verified null, with the reason); a name input,
    which needs OPSIN to become a structure, is an error line; exit status 1 (an input failed)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env.update(PATH=str(empty), CHEMNAMER_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "chemnamer", "name", "--json", "--mode", "best", "--beams", "2",
                           "--model", str(random_model), ASPIRIN, "ethanol"],
                          env=env, capture_output=True, text=True, timeout=1800, cwd=REPO)
    no_traceback(proc.stderr)
    assert proc.returncode == 1, proc.stderr[-2000:]
    a, b = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert a["error"] is None and a["smiles"] == ASPIRIN and a["inchikey"] == ASPIRIN_KEY
    assert a["verified"] is None and a["reference"]["pubchem"] == "2-acetyloxybenzoic acid"
    assert a["reference"]["pubchem_verified"] is None  # nothing can be checked without Java...
    assert a["candidates"] and all(c["verified"] is None and c["reason"] == JAVA_MISSING for c in a["candidates"])
    assert a["id"] is not None  # ...and the naming is stored all the same
    assert "needs OPSIN" in b["error"] and JAVA_MISSING in b["error"]


def test_opsin_cannot_parse_is_false_with_reason():
    o = get_opsin()
    if not o.available():
        pytest.skip(f"OPSIN unavailable here: {o.unavailable_reason}")
    v = o.verify("2-acetyloxyqwertyzoic acid", ASPIRIN_KEY)
    assert v.verified is False and v.reason.startswith("OPSIN could not parse:") and "qwerty" in v.reason
    v = o.verify("x" * 5000, ASPIRIN_KEY)
    assert v.verified is False and "name too long" in v.reason
    v = o.verify("ethanol", ASPIRIN_KEY)
    assert v.verified is False and "different structure" in v.reason


def test_opsin_raising_inside_is_a_value():
    """An exception from OPSIN's Java side (a bug, an OutOfMemoryError) is a reason, not a crash."""
    o = get_opsin()
    if not o.available():
        pytest.skip(f"OPSIN unavailable here: {o.unavailable_reason}")
    broken = Opsin()
    broken.available()  # the process's JVM, already running

    class Boom:
        def parseChemicalName(self, name):  # noqa: N802 - Java's name
            raise RuntimeError("java.lang.OutOfMemoryError: Java heap space")

    broken._n2s = Boom()
    v = broken.verify("ethanol", "LFQSCWFLJHTTHZ-UHFFFAOYSA-N")
    assert v.verified is False and "OutOfMemoryError" in v.reason
    assert "OutOfMemoryError" in broken.name_to_structure("benzene").error


def test_opsin_jar_missing_is_unavailable_with_reason(monkeypatch):
    import chemnamer.opsin as opsin_mod

    monkeypatch.setattr(opsin_mod, "find_jar", lambda: None)
    o = Opsin()
    assert o.available() is False and "OPSIN jar not found" in o.unavailable_reason
    v = o.verify("ethanol", "LFQSCWFLJHTTHZ-UHFFFAOYSA-N")
    assert v.verified is None and "jar not found" in v.reason


def test_broken_opsin_jar_names_with_null_verification(stop_model, tmp_path):
    """A damaged jar (not a zip) in a fresh process: OPSIN unavailable with the reason, naming goes on."""
    jar = tmp_path / "opsin-broken.jar"
    jar.write_bytes(b"this is not a jar\x00" * 64)
    code = f"""
import json
import chemnamer.opsin as o
o.find_jar = lambda: {str(jar)!r}
from chemnamer.inputs import parse_input
from chemnamer.naming import Namer
n = Namer({str(stop_model)!r}, beams=1, rule_based=False)
r = n.name({ASPIRIN!r}, mode="best")
opsin = o.get_opsin()
print(json.dumps(dict(available=opsin.available(), reason=opsin.unavailable_reason, result=r.to_json(),
                      name_input=parse_input("ethanol").message)))
"""
    out = run_python(code, {**os.environ, "CHEMNAMER_HOME": str(tmp_path / "home")})
    assert out["available"] is False and out["reason"].startswith("OPSIN could not start")
    r = out["result"]
    assert r["error"] is None and r["smiles"] == ASPIRIN and r["verified"] is None
    assert r["reference"]["pubchem"] == "2-acetyloxybenzoic acid" and r["reference"]["pubchem_verified"] is None
    assert "OPSIN could not start" in out["name_input"]


# --- rule-based naming stuck -----------------------------------------------------------------------

def test_rule_based_timeout_is_an_error_value_and_naming_goes_on(stop_model, home):
    from chemnamer.rulebased import get_rule_namer

    # A fresh worker (an earlier test may have named aspirin already: openclatura then answers from
    # its cache in well under a millisecond); a cold worker start is not part of the per-molecule limit.
    get_rule_namer().close()
    get_rule_namer().start()
    namer = Namer(str(stop_model), beams=1, rule_timeout_s=0.001, verify=False)
    t0 = time.perf_counter()
    r = namer.name(ASPIRIN, mode="best")
    took = time.perf_counter() - t0
    assert r.error is None and r.smiles == ASPIRIN
    assert r.reference.rule_based is None and "timed out after 0.001 s" in r.reference.rule_based_error
    assert r.reference.pubchem == "2-acetyloxybenzoic acid"  # the other reference still arrives
    assert r.ms["rule_based"] < 5000, r.ms  # bounded by the timeout plus a kill, not by openclatura
    assert took < 120, took
    # The stuck worker was killed; the next call starts a fresh one and works.
    r = Namer(str(stop_model), beams=1, rule_timeout_s=120, verify=False).name("CCO")
    assert r.reference.rule_based == "ethanol" and r.reference.rule_based_error is None


# --- damaged model folder --------------------------------------------------------------------------

def _damage(src: Path, dst: Path, how: str) -> Path:
    shutil.copytree(src, dst)
    weights, config = dst / "model.safetensors", dst / "config.json"
    if how == "truncated weights":
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2])
    elif how == "empty weights":
        weights.write_bytes(b"")
    elif how == "garbage weights":
        weights.write_bytes(os.urandom(4096))
    elif how == "no weights":
        weights.unlink()
    elif how == "bad config":
        config.write_text("{ this is not json")
    elif how == "no config":
        config.unlink()
    elif how == "wrong shapes":
        cfg = json.loads(config.read_text())
        cfg["hidden_size"] *= 2
        config.write_text(json.dumps(cfg))
    elif how == "bad tokenizer":
        (dst / "tokenizer.json").write_text("[1, 2")
    else:
        raise ValueError(how)
    return dst


DAMAGES = ["truncated weights", "empty weights", "garbage weights", "no weights", "bad config", "no config",
           "wrong shapes", "bad tokenizer"]


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_model_is_model_error_and_namer_falls_back(stop_model, tmp_path, how):
    bad = _damage(stop_model, tmp_path / "model", how)
    with pytest.raises(loading.ModelError) as err:
        loading.load(str(bad), device="cpu")
    message = str(err.value)
    assert str(bad) in message and len(message) < 1000 and "\n" not in message.strip(), message
    r = Namer(str(bad), beams=1, rule_based=False, store=False).name(ASPIRIN, mode="best")
    assert r.error is None and r.candidates == []
    assert r.note.startswith("model unavailable (") and "reference names only" in r.note
    assert str(bad) in r.note
    if get_opsin().available():  # the verified PubChem name stands in for the model's
        assert (r.name, r.verified, r.chosen_from) == ("2-acetyloxybenzoic acid", True, "pubchem")


def test_damaged_model_cli_is_one_error_line(stop_model, tmp_path, capsys):
    from chemnamer.cli import main

    bad = _damage(stop_model, tmp_path / "model", "truncated weights")
    assert main(["name", "--model", str(bad), "--no-store", "CCO"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model ") and "could not be loaded" in err and str(bad) in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


# --- read-only data folder -------------------------------------------------------------------------

def _can_mount() -> str | None:
    if os.geteuid() != 0:
        return "mounts need root"
    if not shutil.which("mount"):
        return "no mount command"
    return None


@contextlib.contextmanager
def read_only(folder: Path):
    """`folder` made read-only in place by a read-only bind mount (chmod does not stop root)."""
    folder.mkdir(parents=True, exist_ok=True)
    bind = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if bind.returncode:
        pytest.skip(f"cannot bind-mount here: {bind.stderr.strip()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True, text=True)
        if ro.returncode:
            pytest.skip(f"cannot remount read-only here: {ro.stderr.strip()}")
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.mark.skipif(_can_mount() is not None, reason=str(_can_mount()))
def test_read_only_data_folder(stop_model, tmp_path, monkeypatch, capsys):
    from chemnamer.cli import main
    from chemnamer.store import StoreError, count_history, dispose_all, integrity_check, query_history

    home = tmp_path / "home"
    monkeypatch.setenv("CHEMNAMER_HOME", str(home))
    namer = Namer(str(stop_model), beams=1, rule_based=False, verify=False, references=False)
    stored = [r.id for r in namer.name_many(["CCO", "CCN", "c1ccccc1"])]
    assert all(stored)
    dispose_all()
    with read_only(home):
        dispose_all()
        # Naming still works; the result says why it is not in the history.
        r = namer.name("CCCO")
        assert r.error is None and r.smiles == "CCCO" and r.id is None
        assert "not saved to history: cannot use the database" in r.note and "not writable" in r.note
        assert "Traceback" not in r.note and "sqlalche.me" not in r.note and len(r.note) < 500
        # The CLI: one error line, exit status 2.
        assert main(["history"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: cannot use the database") and "CHEMNAMER_HOME" in err and err.count("\n") == 1
        with pytest.raises(StoreError):
            count_history()
        # A data folder that cannot even be created (under the read-only one).
        monkeypatch.setenv("CHEMNAMER_HOME", str(home / "sub"))
        assert main(["history"]) == 2
        assert "cannot create the data folder" in capsys.readouterr().err
        monkeypatch.setenv("CHEMNAMER_HOME", str(home))
    dispose_all()
    assert count_history() == 3  # nothing already stored was lost
    assert sorted(r["input"] for r in query_history()) == ["CCN", "CCO", "c1ccccc1"]
    assert integrity_check() == "ok"


# --- disk full while writing a checkpoint ----------------------------------------------------------

@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str):
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _fill(folder: Path) -> Path:
    """Write zeros until the file system is full; returns the balloon file."""
    balloon = folder / "balloon"
    block = b"\0" * (1 << 16)
    with open(balloon, "wb") as fh:
        try:
            while True:
                fh.write(block)
                fh.flush()
        except OSError:
            pass
    return balloon


@pytest.mark.skipif(_can_mount() is not None, reason=str(_can_mount()))
def test_disk_full_during_checkpoint(home, tmp_path, monkeypatch, capsys):
    """`chemnamer train` fails with one error line, the run row says failed, the previous checkpoint
    is intact and loads, no half-written folder is left, and the run resumes once there is room."""
    from chemnamer.cli import main
    from chemnamer.finetune import trainer
    from chemnamer.store import integrity_check, runs

    namer_trainer = trainer._trainer_class()
    real_save = namer_trainer._save_checkpoint
    balloons: list[Path] = []

    def save_then_fill(self, *args, **kwargs):  # the disk fills up right after the first checkpoint
        real_save(self, *args, **kwargs)
        if not balloons:
            balloons.append(_fill(Path(self.args.output_dir)))

    monkeypatch.setattr(namer_trainer, "_save_checkpoint", save_then_fill)
    with small_tmpfs(tmp_path / "disk", "24m") as disk:
        out = disk / "run"
        args = ["train", "--recipe", str(REPO / "training" / "recipes" / "smoke.toml"), "--output", str(out),
                "--set", "train.max_steps=6", "--set", "train.checkpoint_every=2", "--set", "train.eval_limit=1",
                "--set", "train.log_every=2", "--set", "train.keep_checkpoints=3"]
        assert main(args) == 1
        err = capsys.readouterr().err
        assert "error: training stopped: No space left on device" in err and "--resume" in err, err[-2000:]
        no_traceback(err)
        (run,) = runs.list_runs()
        assert run["status"] == "failed" and "No space left on device" in run["error"]
        last = trainer.latest_checkpoint(out)
        assert last is not None and last.name == "checkpoint-2"
        assert json.loads((last / trainer.RUN_FILE).read_text())["step"] == 2
        assert sorted(p.name for p in out.iterdir()) == ["balloon", "checkpoint-2"], \
            "a failed checkpoint left a partial folder behind"
        loaded = loading.load(str(last), device="cpu")
        assert loaded.vocab is not None and loaded.model is not None
        # Room again: resume from the intact checkpoint and finish, under the same run.
        balloons[0].unlink()
        assert main(args + ["--resume"]) == 0
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (result["status"], result["step"], result["run_id"]) == ("completed", 6, run["id"])
        assert runs.get_run(run["id"])["status"] == "completed"
    assert integrity_check() == "ok"


@pytest.mark.skipif(_can_mount() is not None, reason=str(_can_mount()))
def test_disk_full_during_batch_output(stop_model, tmp_path, capsys):
    """The output's disk fills up: one error line, the rows written so far stay; with room again,
    --resume completes it with every input row exactly once."""
    import csv

    from chemnamer.cli import main

    src = tmp_path / "in.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["smiles", "id", "note"])
        for i in range(40):
            w.writerow([["CCO", "c1ccccc1", "C1CC", "CC(=O)O"][i % 4], f"m{i}", "n" * 4000])
    with small_tmpfs(tmp_path / "disk", "64k") as disk:
        out = disk / "out.csv"
        args = ["batch", str(src), "-o", str(out), "--model", str(stop_model), "--beams", "1", "--no-store"]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "No space left on device" in err and "--resume" in err, err[-2000:]
        no_traceback(err)
        subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
        assert main(args + ["--resume"]) == 0
        with open(out, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == [f"m{i}" for i in range(40)]  # every input row once, in order


# --- two app instances on one database -------------------------------------------------------------

_WORKER = """
import json, os, sys, time
from chemnamer.naming import Namer
tag, go, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
namer = Namer({model!r}, beams=1, rule_based=False)
namer.load()
open(go + "." + tag, "w").close()  # ready
while not os.path.exists(go):  # start naming at the same moment as the other instance
    time.sleep(0.01)
ids, notes = [], []
for i in range(n):
    r = namer.name("C" * (i + 1) + tag)  # one transaction per naming, interleaved with the other process
    ids.append(r.id)
    if r.note:
        notes.append(r.note)
print(json.dumps({{"ids": ids, "notes": notes}}))
"""


def test_two_instances_on_one_database(stop_model, home):
    from chemnamer.store import count_history, dispose_all, integrity_check, query_history, save_namings

    save_namings([{"input": f"old-{i}", "name": "kept"} for i in range(50)])  # already stored
    dispose_all()
    go = home / "go"
    n = 15
    env = {**os.environ, "CHEMNAMER_HOME": str(home), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    code = _WORKER.format(model=str(stop_model))
    procs = [subprocess.Popen([sys.executable, "-c", code, tag, str(go), str(n)], env=env, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for tag in ("N", "O")]
    # Both load their model first (minutes on a starved machine), then start together.
    deadline = time.monotonic() + 1800
    while not all(Path(f"{go}.{tag}").exists() for tag in ("N", "O")):
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
        assert time.monotonic() < deadline, "the instances did not start"
        time.sleep(0.05)
    go.write_text("go")
    outs = [p.communicate(timeout=1800) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        no_traceback(err)
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    for res in results:
        # Every naming stored; the only note is the "stop" model's empty answer, never a store problem.
        assert all(res["ids"]) and not [note for note in res["notes"] if note != "no name could be produced"], res
    assert len({i for res in results for i in res["ids"]}) == 2 * n
    assert count_history() == 50 + 2 * n
    inputs = [r["input"] for r in query_history(limit=1000)]
    for tag in ("N", "O"):
        assert sorted(i for i in inputs if i.endswith(tag)) == sorted("C" * (k + 1) + tag for k in range(n))
    assert sum(i.startswith("old-") for i in inputs) == 50
    assert integrity_check() == "ok"
