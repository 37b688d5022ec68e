"""Package discovery for setuptools; everything else is in pyproject.toml (see packaging/README.md).

Shipped resources (default model, icons) live at the top of the repo in resources/, but an installed
chemnamer finds them as package data under chemnamer/resources (chemnamer.paths.resources_dir). The
mapping below, package_dir {"chemnamer.resources": "resources"}, does that for wheels and sdists alike:
no copy step, no symlink, and the sdist carries resources/ because it is package data. It is set here
because pyproject.toml cannot combine automatic discovery with one extra, mapped package.
"""
from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["chemnamer", "chemnamer.*"], exclude=["*.__pycache__"])
    + ["chemnamer.resources"],
    package_dir={"chemnamer.resources": "resources"},
)
