"""Object format v1: streaming seal and open of records (see docs/format.md).

Placeholder signatures; the implementation lands with the format work.
"""
