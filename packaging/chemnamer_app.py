"""Entry point of the frozen (PyInstaller) app: the `chemnamer` command, the GUI when run bare.

Child processes re-enter here, because in a frozen app `sys.executable` is this program
and there is no `python -c`:
  * the rule-based naming worker (chemnamer.reference starts `<app> --chemnamer-rule-worker`) and
    the GUI's training child (chemnamer.finetune.subprocess_run starts `<app> --chemnamer-train-worker`):
    their run_worker_if_requested() must come first, before the CLI parses arguments;
  * multiprocessing 'spawn' children (ZINC labelling pool, data loaders): freeze_support().
"""
import importlib.util
import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()
    from chemnamer import reference

    reference.run_worker_if_requested()  # exits when this process is the rule-based worker
    from chemnamer.finetune import subprocess_run  # stdlib imports only; no Qt

    subprocess_run.run_worker_if_requested()  # exits when this process is the GUI's training child
    from chemnamer.cli import main as cli_main

    argv = sys.argv[1:]
    if not argv and importlib.util.find_spec("chemnamer.commands.gui"):
        argv = ["gui"]  # a double-click (or the .desktop entry) opens the app
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
