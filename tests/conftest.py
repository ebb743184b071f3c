"""Shared pytest options: `--slow` also runs cells and tests flagged slow (nbdev's `tst_flags`)."""
import importlib.util
from pathlib import Path
import pytest

DOCS_TOOL = Path(__file__).resolve().parent.parent/'tools'/'docs.py'


def load_docs_tool():
    "The docs builder, `tools/docs.py`, imported by path (a dev tool in a folder that is not a package)."
    spec = importlib.util.spec_from_file_location('sleeping_llm_docs_tool', DOCS_TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', help='run notebook cells and tests flagged `slow`')


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: needs --slow (nbdev flag `slow`, long or browser tests)')


def pytest_collection_modifyitems(config, items):
    if config.getoption('--slow'): return
    skip = pytest.mark.skip(reason='slow: run with --slow')
    for item in items:
        if 'slow' in item.keywords: item.add_marker(skip)
