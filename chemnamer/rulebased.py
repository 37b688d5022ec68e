"""Rule-based names (openclatura, nispo), each namer in a long-lived child process (chemnamer.childproc):
openclatura can take seconds or never return on odd structures, and only a process can be stopped
from outside."""
from __future__ import annotations

import atexit
import threading
import time
from dataclasses import dataclass

from chemnamer.shared import process_wide


@dataclass
class RuleName:
    name: str | None
    error: str | None
    ms: float


# The rule-based namers, in the order their names are preferred (openclatura: 97.6 % structure-correct
# on 1,000 drug-like PubChem compounds, nispo 93.2 %, either one 99.1 %).
NAMERS = ("openclatura", "nispo")
WORKER_FLAG = "--chemnamer-rule-worker"  # see chemnamer.childproc


def _namer_function(namer: str):
    """SMILES → name ('' or an exception when it has none), after paying the import and warm-up cost
    before 'ready' (nispo's first call loads its rule tables: ~2-17 s, longer than a naming timeout)."""
    if namer == "openclatura":
        import openclatura

        return openclatura.name_smiles
    if namer == "nispo":
        import nispo

        nispo.smiles_to_iupac("CCO")
        return nispo.smiles_to_iupac
    raise ValueError(f"unknown rule-based namer {namer!r}; one of {', '.join(NAMERS)}")


def rule_worker(namer: str = "openclatura") -> int:
    """Child process (chemnamer.childproc): a SMILES per request, [name, error] per reply."""
    from chemnamer.childproc import serve

    def start():
        try:
            import warnings

            from rdkit import RDLogger

            warnings.simplefilter("ignore")
            RDLogger.DisableLog("rdApp.*")
            name_smiles = _namer_function(namer)
        except Exception as exc:  # noqa: BLE001 - reported to the parent as a value
            return f"{namer} unavailable: {type(exc).__name__}: {exc}"

        def handle(smiles, send):
            try:
                name = name_smiles(smiles)
                # the namers return '' rather than raising when they have no name
                send([name, None] if name else [None, f"{namer} could not name this structure"])
            except Exception as exc:  # noqa: BLE001
                send([None, f"{namer} failed: {type(exc).__name__}: {exc}"])

        return handle

    return serve(start)


class RuleNamer:
    """A rule-based namer (openclatura or nispo) in a reusable worker process (chemnamer.childproc);
    killed and restarted after a timeout.

    Starting costs about a second (RDKit + openclatura imports), so the worker is kept between calls;
    calls are serialized.
    """

    START_TIMEOUT_S = 120.0  # a cold start on a busy machine; not counted in the naming timeout

    def __init__(self, namer: str = "openclatura"):
        if namer not in NAMERS:
            raise ValueError(f"unknown rule-based namer {namer!r}; one of {', '.join(NAMERS)}")
        self.namer = namer
        self._lock = threading.Lock()
        self._child = None  # childproc.JsonChild
        self._error: str | None = None  # permanent: openclatura cannot be imported
        self.starts = 0

    def _ensure_started(self) -> str | None:
        from chemnamer.childproc import JsonChild

        if self._child is not None and self._child.alive:
            return None
        self._stop()
        self._child = JsonChild(WORKER_FLAG, self.namer)
        self.starts += 1
        error = self._child.ready(self.START_TIMEOUT_S)
        if error is None:
            return None
        self._child = None
        if error in ("did not start", "died while starting"):
            return "rule-based namer did not start"
        self._error = error
        return error

    def _stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.close()  # the worker's loop ends at EOF

    def start(self) -> str | None:
        """Start the worker now (e.g. in the background at app start); returns an error or None."""
        with self._lock:
            return self._error or self._ensure_started()

    def name(self, smiles: str, timeout_s: float = 5.0) -> RuleName:
        from chemnamer.childproc import EOF

        with self._lock:
            if self._error:
                return RuleName(None, self._error, 0.0)
            error = self._ensure_started()
            if error:
                return RuleName(None, error, 0.0)
            t0 = time.perf_counter()
            reply = self._child.request(smiles, timeout_s)  # a stuck worker is killed; the next call restarts it
            ms = (time.perf_counter() - t0) * 1000
            if reply is None:
                self._child = None
                return RuleName(None, f"rule-based naming timed out after {timeout_s:g} s", ms)
            if reply == EOF:
                self._child = None
                return RuleName(None, "rule-based namer crashed", ms)
            return RuleName(reply[0], reply[1], ms)

    def close(self) -> None:
        with self._lock:
            self._stop()


@process_wide
def get_rule_namer(namer: str = "openclatura") -> RuleNamer:
    """The process-wide worker of one namer; each namer has its own process, so both run at once."""
    rule_namer = RuleNamer(namer)
    atexit.register(rule_namer.close)  # let the worker see EOF and exit cleanly
    return rule_namer


def rule_based_name(smiles: str, timeout_s: float = 5.0, namer: str = "openclatura") -> RuleName:
    """A rule-based namer's name for a SMILES, bounded by `timeout_s` (the worker is restarted after)."""
    return get_rule_namer(namer).name(smiles, timeout_s)
