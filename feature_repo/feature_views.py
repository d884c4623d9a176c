from datetime import timedelta

from data_sources import customer_profile_source, product_stats_source
from entities import customer, product
from feast import FeatureView, Field
from feast.types import Array, Bool, Float32, Float64, Int32, Int64, String

# What we know about a shopper. Refreshed weekly: a profile older than 14 days is stale.
customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    ttl=timedelta(days=14),
    schema=[
        Field(name="avg_order_value", dtype=Float64),
        Field(name="orders_90d", dtype=Int64),
        Field(name="age", dtype=Int32),
        Field(name="loyalty_tier", dtype=String),
        Field(name="is_premium", dtype=Bool),
        Field(name="recent_categories", dtype=Array(String)),
    ],
    source=customer_profile_source,
    online=True,
    tags={"team": "crm"},
)

# Price, stock and engagement of a product. Refreshed daily: older than 2 days is stale.
product_stats = FeatureView(
    name="product_stats",
    entities=[product],
    ttl=timedelta(days=2),
    schema=[
        Field(name="price", dtype=Float64),
        Field(name="discount", dtype=Float32),
        Field(name="rating", dtype=Float32),
        Field(name="views_7d", dtype=Int64),
        Field(name="stock_level", dtype=Int32),
        Field(name="category", dtype=String),
        Field(name="in_stock", dtype=Bool),
    ],
    source=product_stats_source,
    online=True,
    tags={"team": "catalogue"},
)
