"""The only importer of ``cryptography.hazmat``: AEAD, HKDF, randomness, signatures."""
