import pandas as pd
from feast import Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Bool, Float64
from feature_views import customer_profile, product_stats


# How a product fits this shopper, computed at request time from both views.
# Pandas mode: Feast 0.67 drops python-mode outputs online under full feature names.
# Sources name only the five inputs it reads, so replay can tell which input differed.
@on_demand_feature_view(
    sources=[
        customer_profile[["avg_order_value", "recent_categories"]],
        product_stats[["price", "discount", "category"]],
    ],
    schema=[
        Field(name="price_vs_aov", dtype=Float64),
        Field(name="category_match", dtype=Bool),
    ],
    mode="pandas",
)
def customer_product_fit(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=inputs.index)
    # Discounted price relative to the shopper's average order value; missing (not a
    # made-up default) when either side is missing or the order value is zero.
    aov = inputs["avg_order_value"].astype("float64").where(lambda v: v != 0)
    discount = inputs["discount"].astype("float64").fillna(0.0)
    out["price_vs_aov"] = inputs["price"].astype("float64") * (1.0 - discount) / aov
    # Is the product's category among the shopper's recent ones? Vectorised: one row per
    # (request, recent category), compared, then any() per request.
    recent = inputs["recent_categories"].explode()
    hits = recent.eq(inputs["category"].reindex(recent.index)) & recent.notna()
    out["category_match"] = hits.groupby(level=0).any().reindex(inputs.index, fill_value=False)
    return out
