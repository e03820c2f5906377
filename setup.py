"""Build hook for the optional C extensions; everything else is in pyproject.toml.

- ``chromesift.models._forest`` (plain C): where no C compiler is found the build goes on without
  it and prediction falls back to scikit-learn (:mod:`chromesift.models.forest`).
- ``chromesift.data._walk`` (Cython, against lxml's C API): the paragraph walk of the HTML
  parser. Built only where Cython and lxml can be imported at build time (pyproject.toml's
  build requirements bring both); without it :mod:`chromesift.data.html` walks in Python.
- ``chromesift.features._text`` (Cython): the per-word and per-row loops of the feature
  computation and the context stage of the classifier. Built only where Cython can be
  imported at build time; without it :mod:`chromesift.features.transformer` and
  :mod:`chromesift.models.classifier` run their Python/numpy code (the same numbers).
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
except ImportError:  # no Cython at build time: the Python feature loops are used
    pass
else:
    # its sums must round as numpy's do: no fused multiply-adds (-march=native would allow them)
    no_fma = [] if sys.platform == "win32" else ["-ffp-contract=off"]
    ext_modules += cythonize(
        [
            Extension(
                "chromesift.features._text",
                ["chromesift/features/_text.pyx"],
                extra_compile_args=no_fma,
                optional=True,
            )
        ],
        compiler_directives={"language_level": 3},
        quiet=True,
    )

setup(ext_modules=ext_modules)
