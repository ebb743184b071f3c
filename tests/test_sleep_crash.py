"""Sleep killed (SIGKILL) at a random step: the restart sees the pre-sleep or the post-sleep state, never a mix."""
import random, signal, subprocess, sys, textwrap, time
from pathlib import Path
import torch

CHILD = textwrap.dedent('''
    import sys, torch
    from dataclasses import replace
    from sleeping_llm.core import load_facts, config_with
    from sleeping_llm.backends import perplexity
    from sleeping_llm.torch_backend import tiny_lm
    from sleeping_llm.covariance import Covariance
    from sleeping_llm.memit import memit
    from sleeping_llm.ledger import Ledger
    from sleeping_llm.memory import Memory
    import sleeping_llm.sleep as S
    S.perplexity = lambda lm, texts=None, **kw: perplexity(lm, 'The river runs to the sea. Bread is baked in an oven.', **kw)  # short: quick steps
    lm = tiny_lm(); cfg = config_with(lm.cfg, {'memit.v_steps': 2, 'memit.n_prefixes': 0, 'sleep.max_ppl_increase': 100.0})
    cfg = replace(cfg, sleep=replace(cfg.sleep, degraded_threshold=1.01))      # every sleep refreshes everything
    facts, _ = load_facts(); cov = Covariance({l: torch.eye(128) * 0.5 for l in cfg.memit.target_layers})
    led = Ledger(sys.argv[1], lm)
    if not led.applied():
        for f in facts[:6]: led.add(memit(lm, [f], cov, cfg.memit))
    mem = Memory(lm, led, cov, cfg)
    print('READY', flush=True)
    while True:
        S.sleep(mem, progress=lambda step, info: print('STEP', step, flush=True))
''')


def test_sigkill_during_sleep(tmp_path):
    from sleeping_llm.torch_backend import tiny_lm
    from sleeping_llm.ledger import Ledger
    import sleeping_llm.integrity  # noqa: F401  (Ledger.lost)
    rng = random.Random(1); folder = tmp_path/'ledger'; steps_seen = set()
    for t in range(10):
        p = subprocess.Popen([sys.executable, '-c', CHILD, str(folder)], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == 'READY'
        target = rng.choice(['health', 'audit', 'maintain', 'apply', 'validate', 'commit', 'audit_after'])
        for line in p.stdout:                                   # wait for the chosen step, then kill a moment later
            if line.startswith('STEP'): steps_seen.add(line.split()[1])
            if line.strip() == f'STEP {target}': break
        time.sleep(rng.uniform(0, 0.2)); p.send_signal(signal.SIGKILL)
        p.communicate(); p.wait()
        lm = tiny_lm(); led = Ledger(folder, lm)
        live = [r['fact_key'] for r in led.facts()]
        assert len(live) == 6 and len(set(live)) == 6, 'a fact was lost or is applied twice (a mix of pre- and post-sleep)'
        applied = led.applied()
        # all six facts live in one refresh edit (post-sleep) or in the six original edits (before the first sleep)
        assert len(applied) in (1, 6), applied
        lm2 = tiny_lm(); Ledger(folder, lm2)
        for l in lm.cfg.memit.target_layers: assert torch.equal(lm.read_down(l), lm2.read_down(l))
        names, named = {q.name for q in (folder/'tensors').iterdir()}, led.tensor_files()
        superseded = {r[0] for r in led.db.execute("SELECT file FROM edits WHERE status='refreshed'")}
        # no orphan file, no applied edit without its file; a kill inside a compaction (after a committed sleep) may
        # leave superseded rows naming files already deleted, which the next compaction marks
        assert names <= named and named - names <= superseded and led.lost() == [], (names, named)
        led.close()
    assert {'audit', 'maintain', 'validate', 'commit'} <= steps_seen, steps_seen
