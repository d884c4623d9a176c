"""skewguard: a Feast feature store plus a training-serving skew detector.

The public namespace stays import-light: nothing here imports Feast.
"""

from skewguard.errors import (
    FeatureRepoError,
    InputError,
    OnlineStoreError,
    PolicyError,
    SkewguardError,
    TimestampError,
)
from skewguard.verdict import ExitCode, Verdict

__version__ = "0.1.0"

__all__ = [
    "ExitCode",
    "FeatureRepoError",
    "InputError",
    "OnlineStoreError",
    "PolicyError",
    "SkewguardError",
    "TimestampError",
    "Verdict",
    "__version__",
]
