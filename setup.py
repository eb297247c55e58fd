"""weir's build: the modules weir/native.py lists are compiled to C with mypyc where a C
compiler is there; otherwise, or with WEIR_PURE=1, weir installs as pure Python."""

import os
import runpy
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """A failed compilation leaves weir pure Python instead of failing the install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # a compiler's failures have many types
            print(f"weir: not compiled ({exc}); installing pure Python", file=sys.stderr)


ext_modules = []
if os.environ.get("WEIR_PURE") != "1":
    try:
        from mypyc.build import mypycify
    except ImportError:  # a build without its isolated environment, and without mypy
        print("weir: mypyc is not installed; installing pure Python", file=sys.stderr)
    else:
        modules = runpy.run_path("weir/native.py")["MODULES"]
        ext_modules = mypycify(list(modules), opt_level="3")

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
