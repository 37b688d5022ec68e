"""PyInstaller runtime hook: find_spec() for packages the bundle carries as data only.

chemnamer locates the PubChem identifier tables with importlib.util.find_spec("chemicals") (reference.py,
data/pubchem.py) and never imports `chemicals` itself. The spec bundles only those tables, at
<bundle>/chemicals/Identifiers; this finder, last on sys.meta_path, points find_spec there, so the
library needs no frozen-app special case. (The SmolLM2 GGUF is found by models.gguf_path() itself.)
"""
import importlib.machinery
import os
import sys

_DATA_ONLY = ("chemicals",)


class _DataOnlyPackages:
    @staticmethod
    def find_spec(name, path=None, target=None):
        folder = os.path.join(getattr(sys, "_MEIPASS", ""), name)
        if name in _DATA_ONLY and os.path.isdir(folder):
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
            spec.submodule_search_locations = [folder]
            return spec
        return None


sys.meta_path.append(_DataOnlyPackages())
