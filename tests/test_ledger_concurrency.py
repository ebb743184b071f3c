"""Several processes on one ledger (issue 20): two writers adding facts at once, while a third process keeps opening
the ledger (read-only, and as a writer, which sweeps): every fact either writer committed is there afterwards, no
tensor file was lost, and a fresh reload gives base + Σ applied edits bit for bit. A writer that cannot get the lock
waits with one message and fails with one clear error."""
import json, sqlite3, subprocess, sys, textwrap
from pathlib import Path
import torch
from safetensors.torch import load_file

PRELUDE = '''
import os, sys
from sleeping_llm.core import load_facts, config_with
from sleeping_llm.torch_backend import tiny_lm
from sleeping_llm.covariance import Covariance
from sleeping_llm.memit import memit
from sleeping_llm.ledger import Ledger, LedgerError
lm = tiny_lm(); hp = config_with(lm.cfg, {'memit.v_steps': 1, 'memit.n_prefixes': 0}).memit
facts, _ = load_facts(); cov = Covariance.identity(128, hp.target_layers)
'''

WRITER = PRELUDE + textwrap.dedent('''
    folder, k, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    led = Ledger(folder, lm)
    print('READY', flush=True); sys.stdin.readline()
    for j, f in enumerate(facts[k::2][:n]):
        e = memit(lm, [f], cov, hp)
        if j % 2:                                      # as wake does it: a stage, synced first, committed at the end
            with led.stage() as st: st.add(e)
            i = st.ids[0]
        else: i = led.add(e)
        print('ADDED', i, f.id, flush=True)
        led.record([(r['id'], 'raw', True, '') for r in led.facts() if r['edit_id'] == i], f'writer {k}')
    print('DONE', flush=True)
''')

OPENER = PRELUDE + textwrap.dedent('''
    folder, stop = sys.argv[1], sys.argv[2]
    print('READY', flush=True); sys.stdin.readline()
    n = 0
    while not os.path.exists(stop):                   # `status` in another shell, over and over; and writers opening
        Ledger(folder, tiny_lm(), read_only=True).close(); Ledger(folder, tiny_lm()).close(); n += 1
    print('OPENS', n, flush=True)
''')

BLOCKED = PRELUDE + textwrap.dedent('''
    try: Ledger(sys.argv[1], lm, timeout=1.0)
    except LedgerError as e: print('REFUSED', e, flush=True)
''')


def expected_weights(folder: Path, base: dict) -> dict:
    "base + Σ scale·UVᵀ over the applied edits, in id order, computed here from the files (the ledger's own formula)."
    db = sqlite3.connect(f'file:{folder/"ledger.sqlite3"}?mode=ro', uri=True)
    rows = db.execute("SELECT scale, file FROM edits WHERE status IN ('active','degraded') ORDER BY id").fetchall(); db.close()
    files = [(s, load_file(folder/'tensors'/f)) for s, f in rows]
    out = {}
    for l, W0 in base.items():
        parts = [(t[f'U.{l}'] * s, t[f'V.{l}']) for s, t in files if f'U.{l}' in t and s != 0]
        U = torch.cat([u for u, _ in parts], 1).float(); V = torch.cat([v for _, v in parts], 1).float()
        out[l] = (W0.float() + U @ V.T).to(W0.dtype)
    return out


def test_two_writers_and_an_opener(tmp_path):
    from sleeping_llm.torch_backend import tiny_lm
    from sleeping_llm.ledger import Ledger
    import sleeping_llm.integrity  # noqa: F401  (Ledger.lost, foreign_files)
    folder, stop, n = tmp_path/'ledger', tmp_path/'stop', 5
    Ledger(folder, tiny_lm()).close()
    run = lambda code, *a: subprocess.Popen([sys.executable, '-c', code, str(folder), *map(str, a)], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs = [run(WRITER, 0, n), run(WRITER, 1, n), run(OPENER, stop)]
    for p in procs: assert p.stdout.readline().strip() == 'READY', p.stderr.read()
    for p in procs: p.stdin.write('GO\n'); p.stdin.flush()
    outs = []
    for p in procs[:2]:
        out, err = p.communicate(timeout=600); outs.append(out)
        assert p.returncode == 0 and out.strip().endswith('DONE'), err
    stop.touch(); out, err = procs[2].communicate(timeout=600)
    assert procs[2].returncode == 0 and 'OPENS' in out, err
    added = {int(w[1]): w[2] for o in outs for w in (line.split() for line in o.splitlines()) if w[0] == 'ADDED'}
    assert len(added) == 2 * n

    lm = tiny_lm(); base = {l: lm.read_down(l).clone() for l in lm.cfg.memit.target_layers}
    led = Ledger(folder, lm)
    live = {r['edit_id']: r['fact'].id for r in led.facts()}
    assert live == added, 'a committed fact is missing, or an unexpected one is applied'
    assert sorted(led.applied()) == sorted(added) and led.lost() == [] and led.foreign_files() == []
    assert {p.name for p in (folder/'tensors').iterdir()} == led.tensor_files(), 'a tensor file was deleted or left over'
    want = expected_weights(folder, base)
    for l in base: assert torch.equal(lm.read_down(l), want[l]), f'layer {l} is not base + Σ applied edits'
    assert len(led.history()) == 2 * n                 # every record of both writers landed
    led.close()


def test_a_blocked_writer_waits_then_fails_clearly(tmp_path):
    from filelock import FileLock
    from sleeping_llm.torch_backend import tiny_lm
    from sleeping_llm.ledger import Ledger
    folder = tmp_path/'ledger'; Ledger(folder, tiny_lm()).close()
    with FileLock(folder/'writer.lock'):               # another process's writer holds the lock
        p = subprocess.run([sys.executable, '-c', BLOCKED, str(folder)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith('REFUSED') and 'busy for 1 s' in p.stdout, p.stdout
    assert p.stderr.count('waiting for another writer') == 1, p.stderr
