from feast import Entity, ValueType

# A shopper: the model scores products for one customer at a time.
customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.INT64,
    description="A shopper of the fashion store.",
)

# A catalogue item whose popularity follows trends.
product = Entity(
    name="product",
    join_keys=["product_id"],
    value_type=ValueType.INT64,
    description="A catalogue item.",
)
