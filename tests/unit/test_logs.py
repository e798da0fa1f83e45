"""The JSON-lines log format: one object per line; exceptions as type and frames only."""

from __future__ import annotations

import json
import logging
import sys

from vault.logs import LOGGING, JsonLines


def _record(message: str, exc_info=None, **extra) -> logging.LogRecord:
    record = logging.LogRecord("recvault.api", logging.ERROR, __file__, 1, message, (), exc_info)
    record.__dict__.update(extra)
    return record


def test_a_line_is_one_json_object_with_its_fields():
    line = JsonLines().format(_record("request", request_id="r-1", status=201))
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "ERROR" and data["logger"] == "recvault.api"
    assert data["message"] == "request" and data["request_id"] == "r-1" and data["status"] == 201
    assert "ts" in data


def test_an_exception_is_its_type_and_frames_never_its_message():
    quoted = "".join(["SEL", "ECT ref FROM subjects WHERE ref = 'tana", "ka-hanako'"])
    try:
        raise ValueError(quoted)  # frames show this source line, never the runtime message
    except ValueError:
        info = sys.exc_info()
    line = JsonLines().format(_record("unexpected failure", exc_info=info))
    data = json.loads(line)
    assert data["exc_type"] == "ValueError"
    assert "test_an_exception_is_its_type" in data["exc_info"]
    assert "tanaka" not in line and "SELECT" not in line


def test_uvicorn_access_log_is_silenced_and_recvault_logs_info():
    assert LOGGING["loggers"]["uvicorn.access"]["handlers"] == []
    assert LOGGING["loggers"]["recvault"]["level"] == "INFO"


def test_uvicorn_colour_codes_stay_out_of_a_line():
    record = _record("Started server process [%d]", color_message="Started [\x1b[36m%d\x1b[0m]")
    line = JsonLines().format(record)
    assert "\\u001b" not in line and "color_message" not in json.loads(line)
