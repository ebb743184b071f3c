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
