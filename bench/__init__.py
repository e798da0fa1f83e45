"""Benchmarks of recvault; each module has a ``main()`` (run them all: ``python -m bench``)."""
