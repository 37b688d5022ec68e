"""Persistence: one SQLite database (WAL) for naming history, training runs and registered models.

Every function opens its own short session and returns plain dicts and lists, so the CLI, worker
threads and the GUI can call them freely. The schema is migrated with Alembic when first opened.
"""
from chemnamer.store.db import StoreError, dispose_all, engine, init_db, integrity_check, session
from chemnamer.store.history import (
    count_history,
    delete_namings,
    get_naming,
    query_history,
    save_naming,
    save_namings,
)
from chemnamer.store.registry import get_registered, register_model, registered_rows, unregister_model
from chemnamer.store.runs import (
    add_checkpoint,
    create_run,
    delete_run,
    finish_run,
    generalization,
    get_run,
    latest_checkpoint,
    list_runs,
    log_epoch_metrics,
    log_generalization,
    log_steps,
    mark_interrupted,
    run_checkpoints,
    run_metrics,
    run_steps,
    set_status,
)

__all__ = [
    "add_checkpoint", "count_history", "create_run", "delete_namings", "delete_run", "dispose_all", "engine",
    "finish_run", "generalization", "get_naming", "get_registered", "get_run", "init_db", "integrity_check", "latest_checkpoint",
    "list_runs", "log_epoch_metrics", "log_generalization", "log_steps", "mark_interrupted", "query_history", "register_model",
    "registered_rows", "run_checkpoints", "run_metrics", "run_steps", "save_naming", "save_namings",
    "session", "set_status", "StoreError", "unregister_model",
]
