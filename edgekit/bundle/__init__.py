"""Bundles: deterministic archives of artifacts + manifest + SHA256SUMS + C arrays, and their verification."""
