"""Only for `scrapyd-deploy`, which builds its egg with `setup.py bdist_egg`.

Everything (metadata, packages, package data, the `scrapy` entry point naming the
settings module) lives in pyproject.toml; without this file scrapyd-deploy would write
its own setup.py that leaves out the schema and rule-pack data files.
"""

from setuptools import setup

setup()
