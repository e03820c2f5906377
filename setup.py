"""Build hook for the one C extension, ``chromesift._forest``; everything else is in pyproject.toml.

The extension is optional: where no C compiler is found the build goes on without it and
prediction falls back to scikit-learn (:mod:`chromesift.train.forest`).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("chromesift._forest", ["chromesift/_forest.c"], optional=True)])
