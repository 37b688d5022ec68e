"""Training -> SQLite: the run row, step losses, evaluation metrics, checkpoints, the registered model.

The loop owns its run: `open_run` gives it the run id before the first step and `close_run` ends the
row (registering a completed run's model) after the last; `DbLogger`, in between, only writes what it
observes.
"""
from __future__ import annotations

from chemnamer.finetune.callbacks import Callback


def open_run(cfg, base_id: str, hardware: dict, info: dict, run_id: int | None = None) -> int:
    """A new run row for this training, or `run_id` (a resumed run) marked running again; its id."""
    from chemnamer.store import runs

    runs.mark_interrupted()  # a run left 'running' by a killed process
    if run_id is not None:
        runs.set_status(run_id, "running")  # resumed: this process owns the run again
        return run_id
    config = cfg.to_dict()
    config["_info"] = {k: v for k, v in info.items() if k != "data"}
    config["_data_report"] = info.get("data")
    return runs.create_run(cfg.name, config, info.get("train_hash"), base_id, cfg.model.method, hardware,
                           info.get("output_dir"))


def close_run(run_id: int, cfg, base_id: str, status: str, result: dict) -> str | None:
    """End the run's row; a completed run's model (result["model_dir"]) is registered as run-<id>,
    and that id is returned."""
    from chemnamer.store import registry, runs

    model_id = None
    if status == "completed" and result.get("model_dir"):
        model_id = f"run-{run_id}"
        registry.register_model(model_id, result["model_dir"], base_id, run_id=run_id,
                                description=f"{cfg.name}: {cfg.model.method}, "
                                            f"{cfg.model.num_layers or 'all'} layers",
                                metrics=result.get("metrics") or {})
    runs.finish_run(run_id, status, error=result.get("error"), final_metrics=result.get("metrics"),
                    model_id=model_id)
    return model_id


class DbLogger(Callback):
    """Step losses, evaluation metrics and checkpoints of the run `run_id`, as they happen."""

    def __init__(self, run_id: int):
        from chemnamer.store import runs

        self.runs = runs
        self.run_id = run_id

    def on_log(self, state, logs):
        self.runs.log_steps(self.run_id, logs)

    def on_evaluate(self, state, split, decoding, metrics):
        kind = "greedy" if decoding == "greedy" else "beam"
        self.runs.log_epoch_metrics(self.run_id, state.epoch, state.step, split, kind,
                                    {**metrics, "decoding": decoding}, state.examples_seen, state.elapsed_s)

    def on_checkpoint(self, state, path, kind):
        self.runs.add_checkpoint(self.run_id, state.step, state.epoch, path, kind)
