"""ed25519 keys and signatures, shared by signed releases (edgekit.release) and signed bundles
(edgekit.bundle), each of which signs with its own context string. Below both, so neither
imports the other to sign or verify.
"""
