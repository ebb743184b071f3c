"""The concurrency soak (issue 20), short variant: writers, a sleeper and a reader on one home for 45 s with a kill -9
every ~2 s; afterwards no committed fact is missing, no edit is lost, the home is usable and the weights are base +
Σ applied edits bit for bit. The long run is a command: `python tools/soak.py` (10 min, 4 processes, ~75 kills).
The soak's own check is tested too: it must report a missing fact, a corrupted edit and a broken home."""
import importlib.util, json, subprocess, sys
from pathlib import Path
import pytest

SOAK = Path(__file__).resolve().parent.parent/'tools'/'soak.py'


def load_soak():
    spec = importlib.util.spec_from_file_location('sleeping_llm_soak_tool', SOAK)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_short_soak_with_kills(tmp_path):
    out = tmp_path/'soak.json'
    p = subprocess.run([sys.executable, str(SOAK), '--minutes', '0.75', '--kill-every', '2', '--writers', '2', '--sleepers', '1',
                        '--readers', '1', '--seed', '0', '--workdir', str(tmp_path/'work'), '--out', str(out)],
                       capture_output=True, text=True, timeout=400)
    assert out.exists(), p.stdout + p.stderr
    r = json.loads(out.read_text())
    why = f"{p.stdout}\n{p.stderr[-3000:]}\n{json.dumps({k: v for k, v in r.items() if k != 'machine'}, indent=1)[:6000]}"
    assert r['processes']['concurrent'] >= 3 and r['processes']['min_concurrent_observed'] >= 3, why
    assert r['kills'] >= 5 and r['kills_of_working_processes'] >= 1, why
    assert r['facts_committed'] > 0 and r['writes'] > 0, why
    assert r['facts_lost'] == 0 and r['lost_edits'] == 0 and r['facts_duplicated'] == 0, why
    assert r['homes_bricked'] == 0 and r['weights_exact'], why
    assert r['reader_saw_lost'] == 0 and r['anomalies'] == [] and r['orphans_left'] == 0 and r['foreign_files'] == [], why
    assert r['ok'] and p.returncode == 0, why


@pytest.mark.filterwarnings('ignore:.*quarantined:RuntimeWarning')
def test_the_check_reports_loss(tmp_path):
    "A fact in a journal that the ledger lacks, a corrupted tensor file, and a broken database are each caught."
    soak = load_soak()
    from sleeping_llm.ledger import Ledger
    from sleeping_llm.memit import memit
    lm, hp, cov, facts = soak._setup()
    home, journals = tmp_path/'home', tmp_path/'journals'; journals.mkdir()
    led = Ledger(home, lm); i = led.add(memit(lm, [facts[0]], cov, hp)); file = led.tensor_files().pop(); led.close()
    soak.Journal(journals/'writer-0.log').write('commit', facts[0].id, i, sync=True)
    r = soak.verify(home, journals)
    assert (r['facts_committed'], r['facts_lost'], r['homes_bricked'], r['weights_exact']) == (1, 0, 0, True), r

    soak.Journal(journals/'writer-1.log').write('commit', 'never-committed', 999, sync=True)
    r = soak.verify(home, journals)
    assert r['facts_lost'] == 1 and r['lost_facts'] == ['never-committed'] and r['homes_bricked'] == 0, r

    data = bytearray((home/'tensors'/file).read_bytes()); data[-8:] = b'\xff' * 8; (home/'tensors'/file).write_bytes(bytes(data))
    r = soak.verify(home, journals)
    assert r['lost_edits'] == 1 and not r['weights_exact'] and r['facts_lost'] == 2, r

    (home/'ledger.sqlite3').write_bytes(b'not a database' * 100)
    for p in home.glob('ledger.sqlite3-*'): p.unlink()
    r = soak.verify(home, journals)
    assert r['homes_bricked'] == 1 and r['brick_error'], r
