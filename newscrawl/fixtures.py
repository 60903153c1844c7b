"""Where the bundled fixture sites live (the repository's fixtures/ folder)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SITES = FIXTURES / "sites"
EXPECTED = FIXTURES / "expected"


def site_root(name: str) -> Path:
    root = SITES / name
    if not root.is_dir():
        raise FileNotFoundError(
            f"fixture site {name!r} not found at {root}; run from a checkout of newscrawl "
            "installed with `pip install -e .`"
        )
    return root
