"""Releases: versioned, signed bundles with release notes and a changelog, published to and fetched
from OCI registries (`edgekit release`, `edgekit release push|list|keygen`, `edgekit fetch`)."""
