"""Feature stage: paragraph table -> numeric features (see :mod:`.transformer`)."""

from chromesift.features.transformer import BOOKKEEPING, CATEGORICAL, ParagraphFeatures

__all__ = ["ParagraphFeatures", "BOOKKEEPING", "CATEGORICAL"]
