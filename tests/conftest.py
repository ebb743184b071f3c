"""Shared pytest options: `--slow` also runs cells and tests flagged slow (nbdev's `tst_flags`)."""
import pytest


def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', help='run notebook cells and tests flagged `slow`')


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: needs --slow (nbdev flag `slow`, long or browser tests)')


def pytest_collection_modifyitems(config, items):
    if config.getoption('--slow'): return
    skip = pytest.mark.skip(reason='slow: run with --slow')
    for item in items:
        if 'slow' in item.keywords: item.add_marker(skip)
