"""Training: data loading, preprocessing, augmentation, the fine-tuning engine, export.

The steps of a run that use it (data, train) live in edgekit.stages; this package knows nothing
of runs, reports or the command line.
"""
