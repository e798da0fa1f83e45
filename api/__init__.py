"""recvault's HTTP API (FastAPI): ``api.app.create_app`` and ``api.app:build``."""
