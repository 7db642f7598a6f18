"""What an installation has and how to complete it: extras, `edgekit setup tfjs|js`, `edgekit doctor`.

edgekit installs in layers. The core (bench, targets, report, bundle, verify, check, list,
doctor) needs no TensorFlow; the `tf` extra adds pull/train/convert; two tools that cannot be
plain Python dependencies are installed by explicit setup steps into the per-user tools folder:
the tensorflowjs converter (its declared dependencies do not resolve beside TensorFlow 2.21) and
the TF.js runner's npm packages (installed from the lockfile shipped inside the package).
"""
