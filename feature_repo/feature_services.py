from pathlib import Path

from feast import FeatureService
from feast.feature_logging import LoggingConfig
from feast.infra.offline_stores.file_source import FileLoggingDestination
from feature_views import customer_profile, product_stats
from on_demand_feature_views import customer_product_fit

# Served features are logged here, partitioned by day (skewguard's serving logger).
LOG_DIR = Path(__file__).resolve().parent / "data" / "logs" / "recommender_v1"

# Everything the recommender model v1 reads, online and in training.
recommender_v1 = FeatureService(
    name="recommender_v1",
    features=[customer_profile, product_stats, customer_product_fit],
    logging_config=LoggingConfig(
        destination=FileLoggingDestination(path=str(LOG_DIR), partition_by=["__log_date"]),
        sample_rate=1.0,
    ),
    description="Features of the purchase-probability model that ranks products.",
)
