"""Small widgets shared by the views: badges, the molecule depiction, a busy indicator, styling."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QMimeData, QRectF, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QImage, QPainter, QPalette, QPen, QTextOption
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import (QApplication, QButtonGroup, QFrame, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QSizePolicy, QTextEdit, QWidget)

GREEN, RED, GREY, AMBER = "#1e7b34", "#b3261e", "#6b6f76", "#8a5a00"
GREEN_BG, RED_BG, GREY_BG, AMBER_BG = "#e3f4e6", "#fbe4e2", "#eceef1", "#fdf1d8"
ACCENT = "#2457a6"


def verified_text(verified: bool | None, short: bool = False) -> str:
    if verified is True:
        return "✓" if short else "✓ verified"
    if verified is False:
        return "✗" if short else "✗ not verified"
    return "–" if short else "? not checked"


def verified_color(verified: bool | None) -> str:
    return GREEN if verified is True else RED if verified is False else GREY


def verified_tip(verified: bool | None) -> str:
    if verified is True:
        return "OPSIN reads this name back to the input structure (same tautomer and stereo)"
    if verified is False:
        return "OPSIN does not read this name back to the input structure"
    return "not checked (no OPSIN/Java, or no structure to compare with)"


class Badge(QLabel):
    """A small rounded pill: ✓ verified (green), ✗ not verified (red), ? not checked (grey)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Maximum, QSizePolicy.Fixed)
        self.set_state(None)

    def set_state(self, verified: bool | None, text: str | None = None, tip: str | None = None) -> None:
        fg = verified_color(verified)
        bg = GREEN_BG if verified is True else RED_BG if verified is False else GREY_BG
        self.setText(text or verified_text(verified))
        self.setToolTip(tip or verified_tip(verified))
        self.setStyleSheet(f"QLabel {{ color: {fg}; background: {bg}; border-radius: 9px; padding: 2px 9px;"
                           f" font-weight: 600; }}")

    def set_neutral(self, text: str, tip: str = "", warn: bool = False) -> None:
        fg, bg = (AMBER, AMBER_BG) if warn else (GREY, GREY_BG)
        self.setText(text)
        self.setToolTip(tip)
        self.setStyleSheet(f"QLabel {{ color: {fg}; background: {bg}; border-radius: 9px; padding: 2px 9px;"
                           f" font-weight: 600; }}")


class MoleculeView(QFrame):
    """An RDKit SVG drawn crisply at any size (QSvgRenderer, aspect kept) on a white card."""

    def __init__(self, parent=None, placeholder: str = "The structure appears here"):
        super().__init__(parent)
        self._svg: str | None = None
        self._renderer = QSvgRenderer(self)
        self.placeholder = placeholder
        self.setObjectName("card")
        self.setMinimumSize(260, 200)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def set_svg(self, svg: str | None) -> None:
        self._svg = svg
        self._renderer.load(QByteArray(svg.encode("utf-8")) if svg else QByteArray())
        self.update()

    def svg(self) -> str | None:
        return self._svg

    def has_image(self) -> bool:
        return bool(self._svg) and self._renderer.isValid()

    def _target(self, bounds: QRectF) -> QRectF:
        size = self._renderer.defaultSize()
        if size.isEmpty():
            return bounds
        scale = min(bounds.width() / size.width(), bounds.height() / size.height())
        w, h = size.width() * scale, size.height() * scale
        return QRectF(bounds.x() + (bounds.width() - w) / 2, bounds.y() + (bounds.height() - h) / 2, w, h)

    def paintEvent(self, event):  # noqa: N802 - Qt override
        super().paintEvent(event)
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        bounds = QRectF(self.contentsRect()).adjusted(10, 10, -10, -10)
        if self.has_image():
            self._renderer.render(p, self._target(bounds))
        else:
            p.setPen(QColor(GREY))
            p.drawText(bounds, Qt.AlignCenter | Qt.TextWordWrap, self.placeholder)
        p.end()

    def image(self, width: int = 900) -> QImage | None:
        """The depiction as an image (white background) for the clipboard."""
        if not self.has_image():
            return None
        size = self._renderer.defaultSize()
        height = max(1, round(width * size.height() / max(1, size.width())))
        img = QImage(width, height, QImage.Format_ARGB32)
        img.fill(QColor("white"))
        p = QPainter(img)
        p.setRenderHint(QPainter.Antialiasing)
        self._renderer.render(p, QRectF(0, 0, width, height))
        p.end()
        return img

    def copy_to_clipboard(self) -> bool:
        img = self.image()
        if img is None:
            return False
        data = QMimeData()
        data.setImageData(img)
        if self._svg:
            data.setData("image/svg+xml", QByteArray(self._svg.encode("utf-8")))
        set_clipboard_data(data)
        return True


_clipboard_data: QMimeData | None = None  # the last data we put on the clipboard


def set_clipboard_data(data: QMimeData) -> None:
    """Put Python-made QMimeData on the clipboard, and take it off again before Python exits.

    The clipboard (a Qt global) owns the data; left there, Qt deletes it in its exit-time destructors,
    after Python has finalized, and PySide's wrapper of the QMimeData then touches the dead interpreter:
    a segfault at every normal exit after a copy (seen as exit 139 of the test suite after every test
    had passed; reproduced by four lines: QMimeData, setMimeData, exit). An atexit hook runs while
    Python is still alive."""
    global _clipboard_data
    if _clipboard_data is None:
        import atexit

        atexit.register(_release_clipboard)
    QGuiApplication.clipboard().setMimeData(data)
    _clipboard_data = data


def _release_clipboard() -> None:
    """Clear the clipboard if it still holds our data (not what another program copied since)."""
    if QGuiApplication.instance() is None:
        return  # the application is gone, and the clipboard's data with it, while Python was alive
    clipboard = QGuiApplication.clipboard()
    if clipboard.mimeData() is _clipboard_data or clipboard.ownsClipboard():
        clipboard.clear()


class Spinner(QWidget):
    """An indeterminate busy indicator (a rotating arc) that costs nothing when hidden."""

    def __init__(self, parent=None, size: int = 18):
        super().__init__(parent)
        self._angle = 0
        self._timer = QTimer(self)
        self._timer.setInterval(60)
        self._timer.timeout.connect(self._tick)
        self.setFixedSize(size, size)
        self.hide()

    def start(self) -> None:
        self.show()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.hide()

    def _tick(self) -> None:
        self._angle = (self._angle + 30) % 360
        self.update()

    def paintEvent(self, event):  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        pen = QPen(QColor(ACCENT), 2.4)
        pen.setCapStyle(Qt.RoundCap)
        p.setPen(pen)
        r = QRectF(self.rect()).adjusted(3, 3, -3, -3)
        p.drawArc(r, -self._angle * 16, 270 * 16)
        p.end()


class ElidedLabel(QLabel):
    """One line of text that elides in the middle instead of widening its window; full text as tooltip."""

    clicked = Signal()

    def __init__(self, text: str = "", parent=None):
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.setMinimumWidth(40)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self._full = text or ""
        self.setToolTip(self._full if len(self._full) > 40 else "")
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(20, self.width() - 4)
        super().setText(self.fontMetrics().elidedText(self._full, Qt.ElideMiddle, width))

    def sizeHint(self):  # noqa: N802
        hint = super().sizeHint()
        return QSize(min(hint.width(), 400), hint.height())


class WrappingText(QTextEdit):
    """Read-only, selectable text sized to its content like a label, that wraps a long IUPAC name
    wherever it must. A word-wrapping QLabel breaks only at spaces, so a 120-character name without one
    widened its card past the window; here lines break at spaces and hyphens first, then anywhere.
    The text stays the name itself (no inserted zero-width spaces), so selecting and copying it is exact."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.TextSelectableByKeyboard)
        self.setFrameShape(QFrame.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setWordWrapMode(QTextOption.WrapAtWordBoundaryOrAnywhere)
        self.setLineWrapMode(QTextEdit.WidgetWidth)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setFocusPolicy(Qt.ClickFocus)
        self.document().setDocumentMargin(0)
        self.document().documentLayout().documentSizeChanged.connect(lambda _: self._fit())
        self._fit()

    def setText(self, text: str | None) -> None:  # noqa: N802 - QLabel's name, so views can swap them
        self.setPlainText(text or "")

    def text(self) -> str:
        return self.toPlainText()

    def _fit(self) -> None:
        height = round(self.document().size().height()) + 2 * self.frameWidth()
        if height != self.height():
            self.setFixedHeight(max(height, self.fontMetrics().height()))

    def sizeHint(self):  # noqa: N802
        return QSize(200, self.height())

    def minimumSizeHint(self):  # noqa: N802
        return QSize(40, self.height())

    def wheelEvent(self, event):  # noqa: N802 - nothing to scroll here: let the page scroll
        event.ignore()


def settings() -> QSettings:
    """The app's remembered choices (an INI file in the chemnamer home): CHEMNAMER_HOME keeps them with
    the database of a portable install, and tests never touch the user's own."""
    from chemnamer import paths

    return QSettings(str(paths.home() / "gui.ini"), QSettings.IniFormat)


# The naming modes (chemnamer.naming.MODES) as the app offers them: label and what each one does.
MODE_CHOICES = (
    ("model", "Model", "The language model alone: its best-scoring candidate that OPSIN verifies, else its "
                       "best-scoring one, marked unverified"),
    ("best", "Best", "As Model, but when no candidate verifies, the verified PubChem or rule-based name is "
                     "chosen, and the result says so"),
    ("guided", "Guided", "The guided model rewrites the verified rule-based name in PubChem's style; when no "
                         "rewrite verifies, the rule-based name itself is the answer"),
)


class ModeChoice(QWidget):
    """model / best / guided as one row of exclusive buttons, remembered in gui.ini under `key`.
    `changed(mode)` comes from a click or set_mode, only when the mode really changes."""

    changed = Signal(str)

    def __init__(self, key: str, default: str = "model", parent=None):
        super().__init__(parent)
        self.key = key
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QPushButton] = {}
        for i, (mode, label, tip) in enumerate(MODE_CHOICES):
            b = QPushButton(label)
            b.setObjectName("segment")
            b.setCheckable(True)
            b.setToolTip(tip)
            b.setAccessibleName(f"naming mode {label}")
            self.group.addButton(b, i)
            self.buttons[mode] = b
            lay.addWidget(b)
        saved = settings().value(key, default)
        self._mode = saved if saved in self.buttons else default
        self.buttons[self._mode].setChecked(True)
        self.group.idClicked.connect(lambda i: self.set_mode(MODE_CHOICES[i][0]))

    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        self.buttons[mode].setChecked(True)
        if mode == self._mode:
            return
        self._mode = mode
        settings().setValue(self.key, mode)
        self.changed.emit(mode)


def section_label(text: str) -> QLabel:
    label = QLabel(text.upper())
    label.setObjectName("section")
    return label


def progress_row(eta_width: int) -> tuple[QHBoxLayout, QProgressBar, QLabel]:
    """A progress bar (0-1000, so fractions show smoothly) with a muted ETA label beside it."""
    row = QHBoxLayout()
    progress = QProgressBar()
    progress.setRange(0, 1000)
    progress.setValue(0)
    progress.setFormat("")
    row.addWidget(progress, 1)
    eta = QLabel("")
    eta.setObjectName("muted")
    eta.setMinimumWidth(eta_width)
    row.addWidget(eta)
    return row, progress, eta


def icons_dir() -> Path:
    from chemnamer import paths

    return paths.resources_dir() / "icons"


def icon(name: str) -> QIcon:
    path = icons_dir() / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


STYLE = f"""
QMainWindow, QWizard, QDialog {{ background: #f5f6f8; }}
QFrame#card {{ background: white; border: 1px solid #dfe2e7; border-radius: 8px; }}
QLabel#section {{ color: {GREY}; font-size: 8.5pt; font-weight: 700; letter-spacing: 1px; }}
QLabel#bigname, QTextEdit#bigname {{ font-size: 15pt; font-weight: 600; color: #1b1f24; }}
QLabel#muted {{ color: {GREY}; }}
QLabel#error {{ color: {RED}; background: {RED_BG}; border-radius: 6px; padding: 6px 10px; }}
QLabel#note {{ color: {AMBER}; background: {AMBER_BG}; border-radius: 6px; padding: 6px 10px; }}
QLabel#h1 {{ font-size: 14pt; font-weight: 600; }}
QLineEdit#bigInput {{ font-size: 13pt; padding: 7px 10px; border: 1px solid #c8ccd3; border-radius: 8px;
                     background: white; }}
QLineEdit#bigInput:focus {{ border: 1px solid {ACCENT}; }}
QListWidget#nav {{ background: #e9ecf1; border: none; border-right: 1px solid #d6dae1; font-size: 10.5pt;
                   padding-top: 8px; outline: none; }}
QListWidget#nav::item {{ padding: 9px 12px; margin: 1px 6px; border-radius: 6px; color: #2b3038; }}
QListWidget#nav::item:selected {{ background: white; color: {ACCENT}; font-weight: 600; }}
QTableView {{ background: white; alternate-background-color: #f7f8fa; gridline-color: #e6e8ec;
              selection-background-color: #dbe6f7; selection-color: #111; border: 1px solid #dfe2e7; }}
QHeaderView::section {{ background: #eef0f3; border: none; border-bottom: 1px solid #d6dae1;
                        border-right: 1px solid #e2e5ea; padding: 5px 6px; font-weight: 600; color: #3a3f47; }}
QToolBar {{ background: #ffffff; border-bottom: 1px solid #dfe2e7; spacing: 6px; padding: 4px 8px; }}
QStatusBar {{ background: #ffffff; border-top: 1px solid #dfe2e7; }}
QPushButton {{ padding: 5px 12px; }}
QPushButton#primary {{ background: {ACCENT}; color: white; border: 1px solid #1d4787; border-radius: 5px;
                       padding: 6px 16px; font-weight: 600; }}
QPushButton#primary:disabled {{ background: #9db1d3; border-color: #9db1d3; }}
QPushButton#segment {{ background: white; border: 1px solid #c8ccd3; border-radius: 0; padding: 5px 11px;
                       margin-left: -1px; color: #2b3038; }}
QPushButton#segment:checked {{ background: {ACCENT}; border-color: #1d4787; color: white; }}
QProgressBar {{ border: 1px solid #cfd4db; border-radius: 5px; background: white; text-align: center;
                min-height: 18px; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 4px; }}
"""


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = app.palette()
    pal.setColor(QPalette.Window, QColor("#f5f6f8"))
    pal.setColor(QPalette.Base, QColor("white"))
    pal.setColor(QPalette.AlternateBase, QColor("#f7f8fa"))
    pal.setColor(QPalette.Highlight, QColor("#2457a6"))
    pal.setColor(QPalette.Button, QColor("#f0f2f5"))
    app.setPalette(pal)
    font = app.font()
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    app.setStyleSheet(STYLE)


def mono_font(size: float = 9.5) -> QFont:
    f = QFont("DejaVu Sans Mono")
    f.setStyleHint(QFont.Monospace)
    f.setPointSizeF(size)
    return f
