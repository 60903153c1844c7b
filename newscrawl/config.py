"""Typed reads of NEWSCRAWL_* settings that fail with a message naming the setting."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by the workers' fork server, which does without scrapy
    from scrapy.settings import BaseSettings


class SettingError(ValueError):
    """A setting has a value we cannot use; the message names the setting and what is accepted."""


TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def get_bool(settings: BaseSettings, name: str, default: bool = False) -> bool:
    value = settings.get(name, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in _FALSE:
        return False
    raise SettingError(f"{name}={value!r}: expected a boolean (1/0, true/false, yes/no)")


def get_int(settings: BaseSettings, name: str, default: int, minimum: int | None = None) -> int:
    value = settings.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SettingError(f"{name}={value!r}: expected an integer") from None
    if minimum is not None and number < minimum:
        raise SettingError(f"{name}={value!r}: must be >= {minimum}")
    return number


def get_float(settings: BaseSettings, name: str, default: float, minimum: float = 0.0) -> float:
    value = settings.get(name, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingError(f"{name}={value!r}: expected a number") from None
    if number < minimum:
        raise SettingError(f"{name}={value!r}: must be >= {minimum}")
    return number


def get_choice(settings: BaseSettings, name: str, default: str, choices: Iterable[str]) -> str:
    allowed = list(choices)
    value = str(settings.get(name, default)).strip().lower()
    if value not in allowed:
        raise SettingError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    return value
