"""Deprecated location of the offline store plugin: use `skewguard.store.offline_store`.

`feature_store.yaml` files written before the package had subpackages name
`skewguard.offline_store.AsofDuckDBOfflineStore` (and its config); they keep loading.
"""

import warnings

from skewguard.store.offline_store import AsofDuckDBOfflineStore, AsofDuckDBOfflineStoreConfig

warnings.warn(
    "skewguard.offline_store is deprecated: name "
    "skewguard.store.offline_store.AsofDuckDBOfflineStore in feature_store.yaml",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["AsofDuckDBOfflineStore", "AsofDuckDBOfflineStoreConfig"]
