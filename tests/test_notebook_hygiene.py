"""Notebooks that open and run cleanly (issue 22): each names a Python kernel (no "Select Kernel" dialog), each is
committed clean, and a notebook that was run and saved in Jupyter with the project's pre-save hook
(`python tools/jupyter_hooks.py`, part of the README's install) is written back as the committed file: running a
notebook leaves `git status` clean."""
import copy, importlib.util, json
from pathlib import Path
import pytest
from execnb.nbio import nb2str
from fastcore.xtras import loads
from nbdev.clean import _nbdev_clean
from sleeping_llm.core import clean_saved_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)


def ran(nb: dict) -> dict:
    "`nb` as JupyterLab holds it after a run: outputs, execution counts, the kernel's own metadata."
    nb = copy.deepcopy(nb)
    for i, c in enumerate(nb['cells']):
        if c['cell_type'] == 'code':
            c['execution_count'] = i + 1
            c['outputs'] = [{'output_type': 'stream', 'name': 'stdout', 'text': ['ran\n']}]
            c['metadata'] = {**c['metadata'], 'execution': {'iopub.status.busy': '2026-12-07T03:00:00Z'}}
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


class Root:                                   # what the hook reads of Jupyter's contents manager
    root_dir = str(ROOT)


@pytest.mark.parametrize('name', ['05a_editor.ipynb', 'experiments/lifelong.ipynb'])
def test_saving_a_run_notebook_in_jupyter_writes_the_committed_file(name):
    nb = ROOT/'nbs'/name
    model = {'type': 'notebook', 'content': loads(json.dumps(ran(json.loads(nb.read_text()))))}
    clean_saved_notebook(model=model, path=f'nbs/{name}', contents_manager=Root())     # as Jupyter calls it
    assert nb2str(model['content']) == nb.read_text()
    other = {'type': 'notebook', 'content': ran(json.loads(nb.read_text()))}
    clean_saved_notebook(model=other, path='scratch/mine.ipynb', contents_manager=Root())
    assert other['content']['cells'][1]['outputs']                                  # not the project's: as it is


def test_the_installer_adds_and_removes_the_hook(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location('jupyter_hooks', ROOT/'tools'/'jupyter_hooks.py')
    hooks = importlib.util.module_from_spec(spec); spec.loader.exec_module(hooks)
    f = tmp_path/'etc'/'jupyter'/'jupyter_server_config.py'
    monkeypatch.setattr(hooks, 'config_file', lambda: f)
    assert hooks.main([]) == 0 and hooks.main([]) == 0                             # twice: one block
    assert f.read_text().count('pre_save_hook = clean_saved_notebook') == 1
    c = type('C', (), {})(); c.ContentsManager = type('CM', (), {})()
    exec(f.read_text(), {'c': c})
    assert c.ContentsManager.pre_save_hook is clean_saved_notebook
    assert hooks.main(['--remove']) == 0 and 'pre_save_hook' not in f.read_text()
    f.write_text('c.ContentsManager.pre_save_hook = print\n')
    assert hooks.main([]) == 1 and f.read_text() == 'c.ContentsManager.pre_save_hook = print\n'   # another hook: left alone
