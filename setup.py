"""Build hook for the optional C extensions; everything else is in pyproject.toml.

Each extension is optional: where it is not built, the module that chooses between it and
its Python reference (named below) runs the reference, which gives the same numbers.

- ``chromesift.models._forest`` (plain C): the boosters' trees. Where no C compiler is found
  the build goes on without it (:mod:`chromesift.models.forest_kernels`).
- ``chromesift.data._walk`` (Cython, against lxml's C API): the paragraph walk of the HTML
  parser. Built only where Cython and lxml can be imported at build time (pyproject.toml's
  build requirements bring both) (:mod:`chromesift.data.walk_kernels`).
- ``chromesift.data._lexbor`` (Cython, no headers): the same walk over lexbor's tree, with
  lexbor's functions looked up at run time in selectolax's module (``dlopen``/``dlsym``, so
  POSIX only). Without it, or without selectolax, pages are read with lxml
  (:mod:`chromesift.data.lexbor`).
- ``chromesift.features._text`` (Cython): the per-word and per-row loops of the feature
  computation (:mod:`chromesift.features.text_kernels`).
- ``chromesift.models._context`` (Cython): the context stage of the classifier
  (:mod:`chromesift.models.context`).

The last three are built only where Cython can be imported at build time.
"""

import sys

from setuptools import Extension, setup

ext_modules = [Extension("chromesift.models._forest", ["chromesift/models/_forest.c"], optional=True)]

try:
    import lxml
    from Cython.Build import cythonize
except ImportError:  # no Cython or lxml at build time: the Python walk is used
    pass
else:
    ext_modules += cythonize(
        [
            Extension(
                "chromesift.data._walk",
                ["chromesift/data/_walk.pyx"],
                include_dirs=lxml.get_include(),
                optional=True,
            )
        ],
        compiler_directives={"language_level": 3},
        quiet=True,
    )

try:
    from Cython.Build import cythonize
except ImportError:  # no Cython at build time: the Python feature loops and context are used
    pass
else:
    # their sums must round as numpy's do: no fused multiply-adds (-march=native would allow them)
    no_fma = [] if sys.platform == "win32" else ["-ffp-contract=off"]
    ext_modules += cythonize(
        [
            Extension(name, [source], extra_compile_args=no_fma, optional=True)
            for name, source in (
                ("chromesift.data._lexbor", "chromesift/data/_lexbor.pyx"),
                ("chromesift.features._text", "chromesift/features/_text.pyx"),
                ("chromesift.models._context", "chromesift/models/_context.pyx"),
            )
        ],
        compiler_directives={"language_level": 3},
        quiet=True,
    )

setup(ext_modules=ext_modules)
