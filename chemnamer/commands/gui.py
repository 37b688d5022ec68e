"""`chemnamer gui`: the desktop app (PySide6), or `--screenshot DIR` to render its views into PNGs."""
from __future__ import annotations


def add(sub) -> None:
    p = sub.add_parser("gui", help="open the desktop app (naming, batch, history, training, runs)")
    p.add_argument("--model", help="model id or model directory to start with (default: the shipped 'default')")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--screenshot", metavar="DIR",
                   help="render each main view offscreen into DIR/*.png and exit")
    p.add_argument("--smiles", help="with --screenshot: the molecule shown in the naming view")
    p.set_defaults(func=cmd_gui)


def cmd_gui(args) -> int:
    try:
        from chemnamer.gui.app import main
    except ImportError as exc:  # PySide6 or pyqtgraph missing
        import sys

        print(f"error: the GUI needs PySide6 and pyqtgraph ({exc})", file=sys.stderr)
        return 2
    return main(model=args.model, device=args.device, screenshot=args.screenshot, smiles=args.smiles)
