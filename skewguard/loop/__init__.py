"""The retraining loop: verdicts become events, events become retrained models.

`events` is the event a retrain or block verdict publishes and its file and webhook sinks;
`stream` is the Redis Stream those events travel on, read in a consumer group; `watch`
checks every new serving-log window and publishes, remembering what it did in its state
file (`watch_state`); `retrain` consumes events, trains on a
fresh snapshot and promotes only what checks clean; `model` is the model it trains and the
promotion pointer.
"""
