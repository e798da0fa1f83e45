"""Measurements behind docs/scale.md: one module per resource, each runnable alone.

``python -m bench.scale.postgres``, ``python -m bench.scale.openbao``,
``python -m bench.scale.workers``, ``python -m bench.scale.s3``. Each prints the
figures docs/scale.md records, with the conditions it ran under.
"""
