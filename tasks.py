#!/usr/bin/env python3
"""Set-up and the two everyday jobs, needing nothing but Python 3.11+.

    python3 tasks.py demo   # .venv + newscrawl, crawl the demo site -> output/demo.jsonl
    python3 tasks.py test   # .venv + newscrawl[test], run the whole test suite
    python3 tasks.py golden # rewrite fixtures/expected/demo/records.jsonl (review the diff!)

Extra arguments after `test` go to pytest. Plain Python, not make, so a fresh machine
needs no build tool.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project once per change of pyproject.toml."""
    if sys.version_info < (3, 11):  # noqa: UP036 - tasks.py may be run by an old python3
        sys.exit(f"newscrawl needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / f".installed-{extras or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f".[{extras}]" if extras else "."
    print(f"installing newscrawl{f'[{extras}]' if extras else ''} into {VENV}", flush=True)
    subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-e",
            target,
        ],
        cwd=ROOT,
        check=True,
    )
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "golden"):
        print(__doc__)
        return 2
    os.chdir(ROOT)
    if argv[0] == "demo":
        ensure_venv("")
        return subprocess.call([str(BIN / "newscrawl"), "demo", *argv[1:]])
    ensure_venv("test")
    if argv[0] == "golden":
        return subprocess.call([str(BIN / "python"), "-m", "tests.golden"])
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
