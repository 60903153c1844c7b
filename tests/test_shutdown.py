"""The quick exit after a crawl: garbage is still finalized; nothing changes before the exit."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path

from newscrawl.shutdown import quick_exit_after_crawl

ROOT = Path(__file__).resolve().parent.parent


def test_garbage_cycles_are_still_finalized_at_exit(tmp_path: Path) -> None:
    # Freezing without collecting first would keep the cycle alive past the finalization's
    # collections: its __del__ (here, writing a file) would never run.
    target = tmp_path / "finalized.txt"
    script = textwrap.dedent(
        f"""
        import gc
        from pathlib import Path
        from newscrawl.shutdown import quick_exit_after_crawl

        class Resource:
            def __del__(self):
                Path({str(target)!r}).write_text("finalized")

        quick_exit_after_crawl()
        quick_exit_after_crawl()
        gc.disable()  # the cycle must wait for the exit, not for an automatic collection
        resource = Resource()
        resource.itself = resource
        del resource
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)
    assert target.read_text() == "finalized"


def test_nothing_is_frozen_before_the_process_exits() -> None:
    quick_exit_after_crawl()
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()
