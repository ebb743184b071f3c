"""Notebooks that open and run cleanly (issue 22): each names a Python kernel (no "Select Kernel" dialog), each is
committed clean, and a notebook that was run and saved in Jupyter with nbdev's hooks (`nbdev_install_hooks`, in
the README's developer install) is saved clean: running a notebook leaves `git status` clean."""
import copy, json
from pathlib import Path
import pytest
from execnb.nbio import nb2str
from fastcore.xtras import loads
from nbdev.clean import clean_jupyter, _nbdev_clean

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)


def ran(nb: dict) -> dict:
    "`nb` as JupyterLab holds it after a run: outputs, execution counts, the kernel's own metadata."
    nb = copy.deepcopy(nb)
    for i, c in enumerate(nb['cells']):
        if c['cell_type'] == 'code':
            c['execution_count'] = i + 1
            c['outputs'] = [{'output_type': 'stream', 'name': 'stdout', 'text': ['ran\n']}]
            c['metadata'] = {'execution': {'iopub.status.busy': '2026-12-07T03:00:00Z'}}
    nb['metadata']['kernelspec'] = {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'}
    nb['metadata']['language_info'] = {'name': 'python', 'version': '3.11.7'}
    return nb


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[str(p.relative_to(ROOT/'nbs')) for p in NOTEBOOKS])
def test_names_a_python_kernel_and_is_committed_clean(nb):
    d = json.loads(nb.read_text())
    ks = d['metadata'].get('kernelspec') or {}
    assert ks.get('name') == 'python3' and ks.get('language') == 'python', f'{nb.name}: kernelspec {ks}'
    assert all(not c.get('outputs') and c.get('execution_count') is None for c in d['cells'] if c['cell_type'] == 'code'), f'{nb.name} has outputs'
    clean = loads(nb.read_text()); _nbdev_clean(clean, path=nb)
    assert nb2str(clean) == nb.read_text(), f'{nb.name} is not in its clean form (run nbdev_clean)'


@pytest.mark.parametrize('name', ['05a_editor.ipynb', 'experiments/lifelong.ipynb'])
def test_saving_a_run_notebook_in_jupyter_writes_the_committed_file(name):
    nb = ROOT/'nbs'/name
    model = {'type': 'notebook', 'content': loads(json.dumps(ran(json.loads(nb.read_text()))))}
    clean_jupyter(str(nb), model)                                      # the pre-save hook nbdev_install_hooks installs
    assert nb2str(model['content']) == nb.read_text()


def test_the_repository_carries_nbdevs_hook_files():
    assert '*.ipynb merge=nbdev-merge' in (ROOT/'.gitattributes').read_text()
    assert 'driver = nbdev_merge' in (ROOT/'.gitconfig').read_text()
