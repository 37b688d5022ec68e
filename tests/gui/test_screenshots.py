"""`chemnamer gui --screenshot DIR`: every main view rendered offscreen into a PNG that is not blank."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from chemnamer.gui.app import take_screenshots

VIEWS = ["naming", "batch", "history", "wizard", "runs"]


def pixel_stats(path) -> tuple[float, int]:
    """(grey-level standard deviation, distinct grey levels) of an image."""
    img = QImage(str(path)).convertToFormat(QImage.Format_Grayscale8)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    a = np.frombuffer(img.constBits(), dtype=np.uint8, count=bpl * h).reshape(h, bpl)[:, :w]
    return float(a.std()), len(np.unique(a))


def test_screenshots_of_every_view(window, tmp_path):
    assert take_screenshots(window, tmp_path, "CC(=O)Oc1ccccc1C(=O)O", timeout_s=240) == 0
    for view in VIEWS:
        png = tmp_path / f"{view}.png"
        assert png.is_file(), view
        img = QImage(str(png))
        assert img.width() >= 900 and img.height() >= 650, (view, img.width(), img.height())
        std, levels = pixel_stats(png)
        assert std > 12 and levels > 40, (view, std, levels)  # text, tables, a drawing: not a blank pane
    assert window.batch.model.rows and window.naming.outcome.result.inchikey == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"


def test_gui_command_is_registered():
    from chemnamer.cli import build_parser

    args = build_parser().parse_args(["gui", "--screenshot", "out", "--smiles", "CCO", "--device", "cpu"])
    assert args.command == "gui" and args.screenshot == "out" and args.smiles == "CCO"
