"""Shared pytest options: `--slow` also runs cells and tests flagged slow (nbdev's `tst_flags`)."""
import importlib.util, os
from pathlib import Path
import pytest

# The system OpenBLAS that MLX uses (`sleeping_llm.core.preload_blas`) joins its worker threads in a fork handler; seen
# in CI 2026-12-06: pytest hung for 40 minutes in that handler when the REPL test forked (pexpect) after the MLX test.
# One BLAS thread has no workers to join. torch uses MKL, so only MLX's matrix products run on one thread in tests.
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

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
