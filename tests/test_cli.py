"""The installed `sleeping-llm` command, run as a user would run it."""
import json, subprocess, sys
from pathlib import Path

SCRIPT = Path(sys.executable).parent/"sleeping-llm"   # the console script pip installed


def run(*args):
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=900)


def test_probe_json():
    r = run('probe', '--json')
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert 'Paris' in out['completion']
    assert 5 < out['reference_perplexity'] < 60


def test_bad_override_is_one_clear_error():
    r = run('--set', 'memit.lamda_reg=5', 'probe')
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["sleeping-llm: memit.lamda_reg: unknown key (did you mean 'lambda_reg'?)"]


def test_experiments_list_and_bad_parameter():
    r = run('experiments', 'list')
    assert r.returncode == 0, r.stderr
    names = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
    assert {'capacity', 'convergence', 'consolidation_sweep', 'comprehensive', 'lifelong', 'rag_baseline'} <= set(names)
    r = run('experiments', 'run', 'capacity', '-p', 'n_fact', '3')
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("sleeping-llm: capacity: unknown parameter(s) ['n_fact']; parameters: [")


def test_every_experiment_parameter_is_visible_to_papermill():
    "A comment papermill cannot parse hides its parameter (`-p` then says 'unknown parameter'): each assigned name must be seen."
    import ast, papermill as pm
    for nb in sorted((Path(__file__).resolve().parent.parent/'nbs'/'experiments').glob('*.ipynb')):
        cell = next(c for c in json.loads(nb.read_text())['cells'] if 'parameters' in c.get('metadata', {}).get('tags', []))
        assigned = {t.id for s in ast.parse(''.join(cell['source'])).body if isinstance(s, ast.Assign) for t in s.targets}
        assert assigned == set(pm.inspect_notebook(str(nb))), nb.name
