"""The one log format of recvault's processes: JSON lines on stderr.

``recvault serve`` and ``recvault dev`` hand ``LOGGING`` to uvicorn (its
``log_config``), so the server's own lines, the API's access log
(``recvault.api.access``) and its errors come out as one JSON object per line:
``ts``, ``level``, ``logger``, ``message`` and the fields a line adds (an
access line: request id, principal, route, status, bytes, duration).

Exceptions are written as their type and stack frames only, never their
message: a driver error quotes SQL, and any message may quote input that
identifies a person.
"""

from __future__ import annotations

import logging
import traceback
from types import TracebackType
from typing import Any

from pythonjsonlogger.json import JsonFormatter

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class JsonLines(JsonFormatter):
    """One JSON object per record; exceptions as type and frames, without the message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("timestamp", "ts")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def formatException(self, ei: _ExcInfo) -> str:
        kind, _, tb = ei
        frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
        return f"{frames}{kind.__qualname__ if kind is not None else 'Exception'}"

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        # uvicorn adds its message again with terminal colour codes: noise in a JSON line
        log_data.pop("color_message", None)
        if record.exc_info and record.exc_info[0] is not None:
            log_data.setdefault("exc_type", record.exc_info[0].__qualname__)


#: ``logging.config.dictConfig`` of recvault's server processes (uvicorn's ``log_config``)
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "vault.logs.JsonLines"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        # uvicorn's access log prints query strings (a file name may name a patient)
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "recvault": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
