"""Dates as the output contract wants them: ISO 8601, or None when a value cannot be read."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

# Formats seen in meta tags that neither ISO nor RFC 2822 parsing accepts.
_EXTRA_FORMATS = ("%Y-%m-%d %H:%M:%S%z", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%d.%m.%Y %H:%M", "%d.%m.%Y")


def iso_datetime(value: object) -> str | None:
    """`value` (ISO, RFC 2822 as in RSS, or a few common forms) as ISO 8601; None otherwise."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = _other_formats(text)
    if parsed is None:
        return None
    if len(text) == 10 and parsed.hour == parsed.minute == 0 and "T" not in text:
        return parsed.date().isoformat()  # a bare date stays a date
    return parsed.isoformat()


def _other_formats(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    for pattern in _EXTRA_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None
