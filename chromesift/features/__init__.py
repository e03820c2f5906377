"""Feature stage: paragraph table -> numeric features.

:mod:`.compute` computes them (numpy and the kernels only); :mod:`.transformer` is the
scikit-learn estimator around it. ``ParagraphFeatures`` is imported on first use, so the
prediction path of a packed model never imports scikit-learn.
"""

from chromesift.features.compute import BOOKKEEPING, CATEGORICAL

__all__ = ["ParagraphFeatures", "BOOKKEEPING", "CATEGORICAL"]


def __getattr__(name: str):
    if name == "ParagraphFeatures":
        from chromesift.features.transformer import ParagraphFeatures

        return ParagraphFeatures
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
