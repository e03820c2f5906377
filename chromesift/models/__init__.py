"""Model bundles: save, verify, trust, load; the default bundle ships in ``default/``."""

from chromesift.models.bundle import (
    DEFAULT_BUNDLE,
    SKOPS_TRUSTED_TYPES,
    UntrustedBundleError,
    check_trusted,
    export_skops,
    is_trusted,
    load_bundle,
    load_skops,
    read_metadata,
    save_bundle,
    trust_bundle,
    trust_store_path,
    verify_bundle,
)

__all__ = [
    "DEFAULT_BUNDLE", "SKOPS_TRUSTED_TYPES", "UntrustedBundleError", "check_trusted",
    "export_skops", "is_trusted", "load_bundle", "load_skops", "read_metadata", "save_bundle",
    "trust_bundle", "trust_store_path", "verify_bundle",
]
