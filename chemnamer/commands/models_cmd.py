"""`chemnamer models`: the models chemnamer knows (built-in and registered) and whether each is there."""
from __future__ import annotations

import json
from pathlib import Path


def add(sub) -> None:
    p = sub.add_parser("models", help="list the models (built-in and fine-tuned) and whether they are available")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_models)


def availability(spec) -> tuple[bool, str, str]:
    """(available, status, path) without loading anything (and without converting the base GGUF)."""
    from chemnamer import paths
    from chemnamer.model import loading

    if spec.kind == "base":
        # Same folder as loading.base_model_dir(), which would convert the GGUF (~20 s) if we called it.
        cached = paths.cache_dir() / "smollm2-135m-instruct"
        if (cached / "model.safetensors").is_file():
            return True, "cached", str(cached)
        try:
            return True, "GGUF (converted on first load, ~20 s)", str(loading.gguf_path())
        except loading.ModelError as exc:
            return False, str(exc), ""
    if spec.kind == "hub":
        return True, "hub", spec.path
    d = Path(spec.path)
    if (d / "config.json").is_file() or (d / "adapter_config.json").is_file():
        return True, "present", spec.path
    return False, "missing" if not d.exists() else "damaged (no config.json)", spec.path


def cmd_models(args) -> int:
    from chemnamer.model.loading import list_models

    for spec in list_models():
        ok, status, path = availability(spec)
        if args.json:
            print(json.dumps({"id": spec.id, "kind": spec.kind, "path": path, "description": spec.description,
                              "available": ok, "status": status, "meta": spec.meta}, default=str, ensure_ascii=False))
        else:
            print(f"{spec.id}  [{spec.kind}, {status}]\n    {spec.description}\n    {path or '-'}")
    return 0
