"""The app on a real X server: Qt's xcb platform plugin under Xvfb, as on a Linux desktop.

The rest of the suite runs Qt offscreen, which needs none of the X libraries; a fresh Debian desktop
missing libxcb-cursor0 / libxcb-icccm4 / libxcb-keysyms1 aborted `make run` while every test passed
(issue 18). Here a missing library (or a missing Xvfb: scripts/bootstrap.sh installs both) fails.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import chemnamer

REPO = Path(chemnamer.__file__).resolve().parent.parent
HINT = "run scripts/bootstrap.sh (it installs Qt's xcb libraries, Xvfb and xdotool with apt)"


@pytest.fixture(scope="module")
def display():
    """A private Xvfb server; its display name (':N', picked free by Xvfb itself)."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.fail(f"Xvfb is missing: {HINT}")
    read, write = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()  # written once the server accepts clients
    if not number:
        proc.kill()
        pytest.fail(f"Xvfb did not start: {proc.stderr.read().decode(errors='replace')[-500:]}")
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


def xcb_env(display: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    return {**env, "QT_QPA_PLATFORM": "xcb", "DISPLAY": display, "PYTHONPATH": str(REPO), **extra}


PROBE = r"""
import sys
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel

app = QApplication(sys.argv[:1])
label = QLabel("chemnamer on xcb")
label.setStyleSheet("background: rgb(36, 87, 166); color: white; font-size: 20pt")
label.setGeometry(100, 100, 400, 120)
label.show()
for _ in range(200):  # until the X server has mapped and exposed the window
    app.processEvents()
    if label.windowHandle() is not None and label.windowHandle().isExposed():
        break
    import time; time.sleep(0.01)
app.processEvents()
shot = QGuiApplication.primaryScreen().grabWindow(0)  # the X server's framebuffer, not Qt's backing store
pos = label.mapToGlobal(QPoint(6, 6))  # a corner: the background, not the text
print(app.platformName(), label.windowHandle().isExposed(), QColor(shot.toImage().pixel(pos.x(), pos.y())).name())
"""


def test_qapplication_on_xcb_draws_a_window(display):
    proc = subprocess.run([sys.executable, "-c", PROBE], env=xcb_env(display), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"Qt could not start on xcb ({HINT}):\n{proc.stderr[-2000:]}"
    assert proc.stdout.split() == ["xcb", "True", "#2457a6"], proc.stdout + proc.stderr[-2000:]


def test_app_window_opens_on_xcb_and_closes_on_sigterm(display, tiny_dir, tmp_path):
    """`chemnamer gui` as `make run` starts it: its window appears on the X server (found by xdotool);
    SIGTERM (a logout, `kill`) closes it cleanly with exit status 0."""
    xdotool = shutil.which("xdotool")
    if xdotool is None:
        pytest.fail(f"xdotool is missing: {HINT}")
    env = xcb_env(display, CHEMNAMER_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1")
    app = subprocess.Popen([sys.executable, "-m", "chemnamer", "gui", "--model", str(tiny_dir), "--device", "cpu"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, windows = time.monotonic() + 120, []
        while not windows and time.monotonic() < deadline and app.poll() is None:
            found = subprocess.run([xdotool, "search", "--onlyvisible", "--name", "^chemnamer$"],
                                   env=env, capture_output=True, text=True)
            windows = found.stdout.split()
            time.sleep(0.25)
        assert windows, f"no chemnamer window on {display}; exit status {app.poll()}: " + \
            (app.stderr.read()[-2000:] if app.poll() is not None else "")
        geometry = subprocess.run([xdotool, "getwindowgeometry", windows[0]], env=env, capture_output=True,
                                  text=True).stdout
        assert "Geometry:" in geometry, geometry
        app.send_signal(signal.SIGTERM)
        out, err = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
    assert app.returncode == 0, err[-2000:]
    assert "qt.qpa" not in err, err[-2000:]
