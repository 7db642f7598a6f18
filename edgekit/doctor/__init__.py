"""`edgekit doctor`: what is installed and working here (probe.py), and the report of it (checks.py).

A command-level package: it looks at every part (extras, converters, runtimes, the browser, the
GPU), so it sits above them all and nothing below imports it.
"""
