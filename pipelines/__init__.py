"""newscrawl's item pipelines, one stage per module, in flow order (see newscrawl/settings.py)."""
