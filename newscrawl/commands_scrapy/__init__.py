"""Scrapy commands overridden by newscrawl (COMMANDS_MODULE in settings.py)."""
