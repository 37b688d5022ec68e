"""`chemnamer gui`: the desktop app; `--screenshot DIR` renders each view offscreen into PNGs and exits."""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

DEFAULT_SMILES = "CC(=O)N[C@@H](CS)C(=O)O"  # N-acetyl-L-cysteine: a CIP label, in the PubChem table
SAMPLE_BATCH = """smiles,id
CC(=O)Oc1ccccc1C(=O)O,aspirin
CN1C=NC2=C1C(=O)N(C(=O)N2C)C,caffeine
CC(C)Cc1ccc(cc1)C(C)C(=O)O,ibuprofen
CC(=O)Nc1ccc(O)cc1,paracetamol
OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O,glucose
C1CCC(CC1)N,cyclohexylamine
CCN(CC)CC,triethylamine
O=C(O)c1ccccc1O,salicylic acid
CC12CCC3C(C1CCC2O)CCC4=CC(=O)CCC34C,testosterone
c1ccc2ccccc2c1,naphthalene
CCOC(=O)C1=C(C)NC(C)=C(C1c1ccccc1[N+](=O)[O-])C(=O)OC,nifedipine analogue
C1=CC=C(C=C1)C(=O)O,benzoic acid
not-a-smiles,broken row
CN1CCC[C@H]1c1cccnc1,nicotine
"""


def _needs_offscreen() -> bool:
    return not any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")) and \
        sys.platform.startswith("linux")


def make_app():
    from PySide6.QtWidgets import QApplication

    from chemnamer.gui.widgets import apply_style

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("chemnamer")
        app.setOrganizationName("chemnamer")
        app.setDesktopFileName("chemnamer")  # Wayland/taskbars match the window to chemnamer.desktop
    apply_style(app)
    from chemnamer.gui.concurrent import collect_on_gui_thread

    collect_on_gui_thread()  # cyclic garbage (Qt objects) collected on the GUI thread only
    return app


def build(model: str | None = None, device: str = "auto"):
    """Session + main window, model loading started (for the app, tests and screenshots)."""
    from chemnamer.gui.main_window import MainWindow
    from chemnamer.gui.session import Session

    try:
        from chemnamer.store import runs

        runs.mark_interrupted()  # a run whose process died (the app was killed) shows as interrupted
    except Exception:  # noqa: BLE001 - a damaged database must not keep the app from starting
        pass
    session = Session(model, device or "auto")
    window = MainWindow(session)
    session.start()
    window.reattach_training()  # a run started before the app last closed (or died) and still training
    return session, window


def quit_on_signals(app, window, names: tuple[str, ...] = ("SIGTERM", "SIGINT")):
    """SIGTERM (a logout, `kill`) and SIGINT (Ctrl-C in the terminal) close the window cleanly instead of
    killing the process: no questions, a running training asked for a checkpoint and left running.

    Python runs a signal handler only when the interpreter gets control, and Qt's event loop is C++:
    the handler's wake-up byte goes through a socket that a QSocketNotifier watches, so the handler
    runs within one event-loop turn (no polling timer). Returns the notifier (keep it alive)."""
    import signal
    import socket

    from PySide6.QtCore import QSocketNotifier, QTimer

    if threading.current_thread() is not threading.main_thread():
        return None
    rsock, wsock = socket.socketpair()
    for sock in (rsock, wsock):
        sock.setblocking(False)
    signal.set_wakeup_fd(wsock.fileno(), warn_on_full_buffer=False)
    notifier = QSocketNotifier(rsock.fileno(), QSocketNotifier.Read, app)

    def drain() -> None:
        try:
            rsock.recv(512)
        except OSError:
            pass

    notifier.activated.connect(drain)
    notifier._sockets = (rsock, wsock)  # the sockets live as long as the notifier

    def handler(signum, _frame) -> None:
        name = signal.Signals(signum).name
        signal.signal(signum, signal.SIG_DFL)  # a second one ends the process at once
        QTimer.singleShot(0, lambda: window.quit_now(name))

    for name in names:
        signal.signal(getattr(signal, name), handler)
    return notifier


def main(model: str | None = None, device: str = "auto", screenshot: str | None = None,
         smiles: str | None = None) -> int:
    from chemnamer.childproc import run_worker_if_requested

    run_worker_if_requested()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if _needs_offscreen():
        if not screenshot:
            print("error: no display for the GUI (DISPLAY/WAYLAND_DISPLAY unset); use --screenshot DIR to "
                  "render its views into PNGs, or set QT_QPA_PLATFORM", file=sys.stderr)
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = make_app()
    session, window = build(model, device)
    if screenshot:
        return take_screenshots(window, Path(screenshot), smiles or DEFAULT_SMILES)
    notifier = quit_on_signals(app, window)  # noqa: F841 - kept alive until exec() returns
    window.show()
    status = app.exec()
    # The window closed cleanly (tasks stopped, history committed); leave without interpreter teardown.
    # Measured: quit while OPSIN's JVM is still starting in its thread (the first seconds), JPype's exit
    # hook then crashed the process (exit 139) or hung it for over a minute.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


# --- screenshots -----------------------------------------------------------------------------------

def wait_until(predicate, timeout_s: float) -> bool:
    """Process events until `predicate()` (scripted use: screenshots); False when time ran out."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        QApplication.processEvents()
        time.sleep(0.01)
    QApplication.processEvents()
    return True


def save_png(widget, path: Path) -> Path:
    """Grab a widget into a PNG. With Pillow at hand, as a 256-colour palette PNG without dithering:
    a UI is mostly flat colours, so it looks the same at about a third of the size."""
    from PySide6.QtCore import QBuffer, QIODevice
    from PySide6.QtWidgets import QApplication, QMainWindow

    if isinstance(widget, QMainWindow):
        widget.statusBar().clearMessage()
    QApplication.processEvents()
    image = widget.grab().toImage()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import io

        from PIL import Image
    except ImportError:
        image.save(str(path), "PNG", 9)
        return path
    buf = QBuffer()
    buf.open(QIODevice.WriteOnly)
    image.save(buf, "PNG")
    pil = Image.open(io.BytesIO(bytes(buf.data()))).convert("RGB")
    pil.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


def take_screenshots(window, out: Path, smiles: str, timeout_s: float = 300.0) -> int:
    from chemnamer.gui.wizard import TrainingWizard

    out.mkdir(parents=True, exist_ok=True)
    window.resize(1280, 800)
    window.show()
    session = window.session
    shots = []
    if not wait_until(lambda: session.namer is not None, timeout_s):
        print("screenshot: the model did not load in time", file=sys.stderr)
        return 1
    # naming
    window.show_view("name")
    window.naming.set_input(smiles)
    wait_until(lambda: window.naming.outcome is not None and window.naming.outcome.result.input == smiles
               and not window.naming.busy, timeout_s)
    shots.append(save_png(window, out / "naming.png"))
    # batch
    window.show_view("batch")
    sample = Path(tempfile.mkdtemp(prefix="chemnamer-shot-")) / "example-molecules.csv"
    sample.write_text(SAMPLE_BATCH, encoding="utf-8")
    window.batch.start(str(sample))
    wait_until(lambda: not window.batch.running, timeout_s)
    shots.append(save_png(window, out / "batch.png"))
    # history
    window.show_view("history")
    window.history.refresh()
    wait_until(lambda: not window.history.model.loading, 60)
    shots.append(save_png(window, out / "history.png"))
    # wizard, first page
    wizard = TrainingWizard(window.controller, session.devices, window)
    wizard.resize(960, 700)
    wizard.show()
    wait_until(lambda: True, 0)
    shots.append(save_png(wizard, out / "wizard.png"))
    wizard.hide()
    wizard.deleteLater()
    # runs
    window.show_view("runs")
    task = window.runs.refresh()
    wait_until(lambda: not window.runs.overview.running, 60)
    if window.runs.runs:
        ids = [r["id"] for r in window.runs.runs if r.get("last_step")][:3] or [window.runs.runs[0]["id"]]
        window.runs.select_ids(ids)
        wait_until(lambda: set(window.runs.curves) == set(ids), 60)
    del task
    shots.append(save_png(window, out / "runs.png"))
    for p in shots:
        print(p)
    window.close()
    return 0
