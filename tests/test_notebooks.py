"""Every notebook in nbs/ is one test item, executed by nbdev's own runner (`nbdev.test.test_nb`)."""
from pathlib import Path
import pytest
from nbdev.test import test_nb as run_nb   # imported as test_nb, pytest would collect it as a test

NBS = Path(__file__).resolve().parent.parent/'nbs'
NOTEBOOKS = sorted(p for p in NBS.rglob('*.ipynb')
                   if not p.name.startswith('_') and '.ipynb_checkpoints' not in p.parts)


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[str(p.relative_to(NBS)) for p in NOTEBOOKS])
def test_notebook(nb, request):
    skip = [] if request.config.getoption('--slow') else ['slow']
    ok, seconds = run_nb(nb, skip_flags=skip, showerr=True)
    assert ok, f'{nb.name} failed (see the traceback above)'
