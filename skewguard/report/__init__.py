"""The report: a versioned, frozen model of every verdict and measurement, and its renderers.

`model` holds the results (`CheckResult`, `FeatureResult`, `Report`) and their JSON form;
the renderers (`summary` for a terminal, `markdown`, `junit`, `html` with its `svg` plots)
read only that JSON form, so a report rendered from a saved file looks exactly like one
rendered straight after a check; `files` writes the formats a run asks for. Nothing here
imports Feast or computes anything: renderers only read.
"""
