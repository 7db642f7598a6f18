"""Calibration: where the latency model's factors come from.

The calibration zoo (zoo.py, zoo_ncnn.py), the published real-device results and their device
table (published.py and the CSV/YAML files beside it), the features of the calibration models
(features.py), the fit and its cross-validation (fit.py, fitted.py → ../fitted.json), the
evaluation report (evaluate.py), and `targets calibrate`, which fits one profile to a user's own
measurements (bench_input.py, calibrate.py).

The estimator side of edgekit.targets (estimator, latency_model, profile, analysis, ...) never
imports this package; an import-linter contract in pyproject.toml keeps it so.
"""
