"""A process that copied a structure to the clipboard exits cleanly (issue 16: teardown crashes
visible). Qt deletes clipboard data in its exit-time destructors, after Python has finalized; data made
in Python then crashed the process (exit 139) at every normal exit: the test suite's own exit after all
tests had passed. Real Qt (offscreen), real RDKit depiction, a real child process."""
import os
import subprocess
import sys

SCRIPT = r"""
from chemnamer.chem import depict_svg
from chemnamer.inputs import parse_input
from chemnamer.gui.app import make_app
from chemnamer.gui.widgets import MoleculeView

app = make_app()
view = MoleculeView()
view.set_svg(depict_svg(parse_input("CC(=O)Oc1ccccc1C(=O)O").mol))
assert view.copy_to_clipboard()
assert not app.clipboard().image().isNull()
print("copied", flush=True)
"""


def test_exit_after_copying_a_structure_is_clean():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == "copied", proc.stderr
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
