"""Sub-commands of `newscrawl`, one module each (see newscrawl/cli.py)."""
