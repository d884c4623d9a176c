"""The demo: a generated fashion store and the whole loop run on it, one scenario at a time.

`datagen` writes deterministic customers, products and labelled interactions; `scenarios`
says what each scenario breaks and the verdict it deserves; `traffic` plays simulated
shoppers through the logging lookup or HTTP; `trend_story` is the drifting world the
retraining loop is shown on; `run` is `skewguard demo`.
"""
