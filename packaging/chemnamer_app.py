"""Entry point of the frozen (PyInstaller) app: the `chemnamer` command, the GUI when run bare.

Child processes re-enter here, because in a frozen app `sys.executable` is this program
and there is no `python -c`:
  * every chemnamer worker (chemnamer.childproc.WORKERS: the rule-based namers, ZINC labelling, the
    GUI's training child) is `<app> --chemnamer-...-worker ARGS`: childproc.run_worker_if_requested()
    must come first, before the CLI parses arguments;
  * multiprocessing 'spawn' children (data loaders): freeze_support().
"""
import importlib.util
import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()
    from chemnamer import childproc  # stdlib imports only; no Qt

    childproc.run_worker_if_requested()  # exits when this process is one of chemnamer's workers
    from chemnamer.cli import main as cli_main

    argv = sys.argv[1:]
    if not argv and importlib.util.find_spec("chemnamer.commands.gui"):
        argv = ["gui"]  # a double-click (or the .desktop entry) opens the app
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
