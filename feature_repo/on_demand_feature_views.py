from feast import Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Bool, Float64
from feature_views import customer_profile, product_stats


# How a product fits this shopper, computed at request time from both views.
# Python mode (no pandas on the request path); the body works around Feast 0.67 dropping
# python-mode outputs online under full feature names (docs/foundation.md).
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
    mode="python",
)
def customer_product_fit(inputs: dict[str, list]) -> dict[str, list]:
    # Feast runs this body from its source text, alone: it may use nothing defined
    # outside it. Inputs and outputs are columns: one list per name, one item per row.
    price_vs_aov = []
    for price, discount, aov in zip(
        inputs["price"], inputs["discount"], inputs["avg_order_value"], strict=True
    ):
        # Discounted price relative to the shopper's average order value; missing (not a
        # made-up default) when either side is missing or the order value is zero. A
        # missing or NaN discount counts as none; a NaN result is missing.
        if price is None or aov is None or aov == 0:
            price_vs_aov.append(None)
            continue
        off = 0.0 if discount is None or discount != discount else float(discount)
        ratio = float(price) * (1.0 - off) / aov
        price_vs_aov.append(ratio if ratio == ratio else None)
    # Is the product's category among the shopper's recent ones? False when either is missing.
    category_match = [
        category is not None and recent is not None and category in recent
        for category, recent in zip(inputs["category"], inputs["recent_categories"], strict=True)
    ]
    # Feast 0.67 drops python-mode outputs online under full_feature_names=True: it keeps
    # only outputs named as the caller asked ("customer_product_fit__<feature>") and never
    # renames these (tests/test_feast_python_odfv_naming.py). Online, and when `feast
    # apply` checks the schema, Feast returns this input mapping merged with the result,
    # so the full names go there and either form is found (under full names Feast infers
    # the types from the values: floats and bools). Offline it keeps only the result and
    # renames it itself. The prefix is this view's name: serve the view unaliased.
    inputs["customer_product_fit__price_vs_aov"] = price_vs_aov
    inputs["customer_product_fit__category_match"] = category_match
    return {"price_vs_aov": price_vs_aov, "category_match": category_match}
