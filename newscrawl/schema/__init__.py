"""The JSON Schema of one output line, and a validator built from it once."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator


@cache
def article_validator() -> Draft202012Validator:
    schema = json.loads(files(__name__).joinpath("article.schema.json").read_text("utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(record: Any) -> list[str]:
    """Human-readable reasons a record breaks the schema (empty when it is valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<line>'}: {e.message}"
        for e in sorted(article_validator().iter_errors(record), key=lambda e: list(e.path))
    ]
