"""Structured logs: one JSON object per line for log collectors, or readable text for a terminal."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from bot.settings import LogFormat


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(log_format: LogFormat, level: str) -> None:
    handler = logging.StreamHandler()
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # aiogram logs every polling request at INFO; only its problems matter here.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    # httpx logs every request's URL at INFO, and a Zalo bot token is part of the URL.
    logging.getLogger("httpx").setLevel(logging.WARNING)
