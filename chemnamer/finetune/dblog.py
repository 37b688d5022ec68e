"""Training -> SQLite: the run row, step losses, evaluation metrics, checkpoints, the registered model."""
from __future__ import annotations

from chemnamer.finetune.callbacks import Callback


class DbLogger(Callback):
    def __init__(self, cfg, base_id: str, hardware: dict, info: dict, run_id: int | None = None):
        from chemnamer.store import runs

        self.runs = runs
        self.cfg = cfg
        self.base_id = base_id
        self.hardware = hardware
        self.info = info
        self.run_id = run_id

    def on_start(self, state, info):
        runs = self.runs
        runs.mark_interrupted()  # a run left 'running' by a killed process
        if self.run_id is None:
            config = self.cfg.to_dict()
            config["_info"] = {k: v for k, v in info.items() if k != "data"}
            config["_data_report"] = info.get("data")
            self.run_id = runs.create_run(self.cfg.name, config, info.get("train_hash"), self.base_id,
                                          self.cfg.model.method, self.hardware, info.get("output_dir"))
        else:
            runs.set_status(self.run_id, "running")  # resumed: this process owns the run again
        state.run_id = self.run_id

    def on_log(self, state, logs):
        self.runs.log_steps(self.run_id, logs)

    def on_evaluate(self, state, split, decoding, metrics):
        kind = "greedy" if decoding == "greedy" else "beam"
        self.runs.log_epoch_metrics(self.run_id, state.epoch, state.step, split, kind,
                                    {**metrics, "decoding": decoding}, state.examples_seen, state.elapsed_s)

    def on_checkpoint(self, state, path, kind):
        self.runs.add_checkpoint(self.run_id, state.step, state.epoch, path, kind)

    def on_end(self, state, status, result):
        model_id = None
        if status == "completed" and result.get("model_dir"):
            from chemnamer.store import registry

            model_id = f"run-{self.run_id}"
            registry.register_model(model_id, result["model_dir"], self.base_id, run_id=self.run_id,
                                    description=f"{self.cfg.name}: {self.cfg.model.method}, "
                                                f"{self.cfg.model.num_layers or 'all'} layers",
                                    metrics=result.get("metrics") or {})
            result["model_id"] = model_id
        self.runs.finish_run(self.run_id, status, error=result.get("error"),
                             final_metrics=result.get("metrics"), model_id=model_id)
