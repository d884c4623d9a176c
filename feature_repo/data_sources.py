from pathlib import Path

from feast import FileSource

# Absolute paths: both the file and duckdb offline stores then find the data whatever
# the current directory is. The files are written by `skewguard generate`.
DATA = Path(__file__).resolve().parent / "data"

# Weekly snapshot of each customer's profile, computed by the CRM batch job.
customer_profile_source = FileSource(
    name="customer_profile_source",
    path=str(DATA / "customer_profile.parquet"),
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
)

# Daily snapshot of each product's price, stock and 7-day engagement.
product_stats_source = FileSource(
    name="product_stats_source",
    path=str(DATA / "product_stats.parquet"),
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
)
