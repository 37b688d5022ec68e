"""Where chemnamer keeps its database, caches and models.

`CHEMNAMER_HOME` overrides everything (tests and portable installs use it); otherwise
platformdirs picks the user's data and cache directories.
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "chemnamer"
REPO_ROOT = Path(__file__).resolve().parent.parent


def home() -> Path:
    env = os.environ.get("CHEMNAMER_HOME")
    path = Path(env) if env else Path(platformdirs.user_data_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Large derived files (converted base weights, datasets). Shared across homes unless overridden."""
    env = os.environ.get("CHEMNAMER_CACHE")
    path = Path(env) if env else Path(platformdirs.user_cache_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_path() -> Path:
    return home() / "chemnamer.sqlite"


def models_dir() -> Path:
    path = home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def resources_dir() -> Path:
    """Shipped resources: inside the package when installed from a wheel, else the repo's resources/."""
    packaged = Path(__file__).resolve().parent / "resources"
    return packaged if packaged.is_dir() else REPO_ROOT / "resources"


def default_model_dir() -> Path:
    """The shipped model. `CHEMNAMER_DEFAULT_MODEL` puts it elsewhere: a package that ships the weights
    apart, and the tests of the missing-model path (the repository ships the model)."""
    env = os.environ.get("CHEMNAMER_DEFAULT_MODEL")
    return Path(env) if env else resources_dir() / "models" / "default"


def guided_model_dir() -> Path:
    """The shipped guided model (SMILES + rule-based draft → PubChem's name); `CHEMNAMER_GUIDED_MODEL`
    puts it elsewhere, as CHEMNAMER_DEFAULT_MODEL does for the default."""
    env = os.environ.get("CHEMNAMER_GUIDED_MODEL")
    return Path(env) if env else resources_dir() / "models" / "guided"
