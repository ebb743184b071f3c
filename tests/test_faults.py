"""The fault suite of issue 20, through the installed `sleeping-llm` command where a user would meet the fault: each case
that once lost memories or ended in a traceback is reproduced, and must now give one clear error (exit status 2, one
line naming the key, file or folder and what to do) or a correct result — with nothing lost and nothing written
outside the home. (The ledger's own notebooks test the same rules at the API; `test_ledger_concurrency.py`,
`test_ledger_crash.py`, `test_sleep_crash.py` and `test_soak.py` cover several processes and kill -9.)"""
import json, os, shutil, sqlite3, subprocess, sys, textwrap
from pathlib import Path
import pytest

SCRIPT = Path(sys.executable).parent/'sleeping-llm'
FACTS = [('Ines', '{} plays the', 'harp'), ('Tomas', '{} works as a', 'beekeeper')]


def cli(home, *args, stdin='', timeout=900):
    return subprocess.run([str(SCRIPT), '--set', f'paths.home={home}', *args], input=stdin, capture_output=True, text=True, timeout=timeout)


def one_clear_error(r, *contains):
    "Exit status 2 and one line on stderr (no traceback) containing each of `contains`."
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    lines = [l for l in r.stderr.strip().splitlines() if l.strip() and 'Warning' not in l and not l.startswith('  warnings.warn')]
    assert len(lines) == 1 and 'Traceback' not in r.stderr, r.stderr[-2000:]
    for c in contains: assert c in lines[0], (c, lines[0])
    return lines[0]


@pytest.fixture(scope='module')
def engine():
    "The embedded model, its covariance and settings, loaded once (as `sleeping-llm` loads them)."
    from sleeping_llm.core import load_config
    from sleeping_llm.backends import load_model
    from sleeping_llm.covariance import get_covariance
    cfg = load_config(); lm = load_model(cfg)
    return lm, get_covariance(lm, cfg.memit, progress=False, cache=cfg.cache), cfg


def taught_home(tmp_path, engine) -> Path:
    "A home whose memory holds FACTS (one edit each), written as `chat` writes them; the model's weights put back after."
    from sleeping_llm.core import Fact
    from sleeping_llm.memit import memit
    from sleeping_llm.ledger import Ledger
    lm, cov, cfg = engine; home = tmp_path/'home'
    led = Ledger(home/'ledger', lm)
    for s, p, o in FACTS: led.add(memit(lm, [Fact(s, p, o)], cov, cfg.memit))
    led.close()
    return home


def live_facts(home) -> list[str]:
    db = sqlite3.connect(f"file:{home/'ledger'/'ledger.sqlite3'}?mode=ro", uri=True)
    rows = db.execute("SELECT f.subject, f.object FROM facts f JOIN edits e ON e.id=f.edit_id WHERE e.status IN ('active','degraded') ORDER BY f.id").fetchall()
    db.close(); return [f'{s}:{o}' for s, o in rows]


def test_reader_never_deletes_a_writers_file(tmp_path, engine):
    "`status` in another shell between a writer's tensor write and its commit used to delete the new file."
    home = taught_home(tmp_path, engine)
    inflight = home/'ledger'/'tensors'/f'1767225600123456789-{os.getpid()}-0.safetensors'   # this (live) process's file
    inflight.write_bytes(b'being written'); mine = home/'ledger'/'tensors'/'notes.txt'; mine.write_text('the user\'s')
    before = {p.name: p.read_bytes() for p in (home/'ledger'/'tensors').iterdir()}
    r = cli(home, 'status', '--check')
    assert r.returncode == 0, r.stderr
    assert {p.name: p.read_bytes() for p in (home/'ledger'/'tensors').iterdir()} == before
    assert 'database ok' in r.stdout and 'notes.txt' in r.stdout and 'Ines plays the → harp' in r.stdout


def test_a_damaged_tensor_is_quarantined_and_doctor_rewrites_it(tmp_path, engine):
    "One bad tensor used to disable every memory, with `--reset` as the only way out."
    home = taught_home(tmp_path, engine)
    files = sorted((home/'ledger'/'tensors').iterdir())
    files[0].write_bytes(files[0].read_bytes()[:-16] + b'\0' * 16)              # Ines's edit, damaged
    r = cli(home, 'status', '--check')
    assert r.returncode == 0, r.stderr
    assert 'lost (checksum): Ines plays the → harp' in r.stdout and '1 facts lost in 1 damaged edit' in r.stdout
    r = cli(home, 'doctor')
    assert r.returncode == 0, r.stdout + r.stderr
    assert '[re-written] Ines plays the → harp' in r.stdout and 'doctor: nothing lost' in r.stdout
    assert live_facts(home) == ['Tomas:beekeeper', 'Ines:harp']
    r = cli(home, 'status', '--check')
    assert '0 facts lost in 0 damaged edit' in r.stdout, r.stdout


def test_a_lost_wal_loses_no_committed_fact(tmp_path):
    "Deleting the -wal file after a crash used to lose the newest fact (and its tensor was then swept)."
    code = textwrap.dedent('''
        import os, sys
        from sleeping_llm.core import load_facts, config_with
        from sleeping_llm.torch_backend import tiny_lm
        from sleeping_llm.covariance import Covariance
        from sleeping_llm.memit import memit
        from sleeping_llm.ledger import Ledger
        lm = tiny_lm(); hp = config_with(lm.cfg, {'memit.v_steps': 1}).memit; facts, _ = load_facts()
        led = Ledger(sys.argv[1], lm); cov = Covariance.identity(128, hp.target_layers)
        for f in facts[:3]: led.add(memit(lm, [f], cov, hp))
        print('COMMITTED', flush=True); os._exit(9)                 # a crash: no close, no clean shutdown
    ''')
    folder = tmp_path/'ledger'
    p = subprocess.run([sys.executable, '-c', code, str(folder)], capture_output=True, text=True, timeout=600)
    assert 'COMMITTED' in p.stdout, p.stderr
    for suffix in ('-wal', '-shm'): Path(f'{folder}/ledger.sqlite3{suffix}').unlink(missing_ok=True)
    from sleeping_llm.core import load_facts
    from sleeping_llm.torch_backend import tiny_lm
    from sleeping_llm.ledger import Ledger
    import sleeping_llm.integrity   # noqa: F401  (lost)
    led = Ledger(folder, tiny_lm())
    assert [r['fact'] for r in led.facts()] == load_facts()[0][:3] and led.lost() == []
    assert {p.name for p in (folder/'tensors').iterdir()} == led.tensor_files()


def test_hostile_import_is_refused_and_writes_nothing(tmp_path, engine):
    "Import used to write files under names from the export (`../`), trust its checksums and build SQL from its keys."
    home = taught_home(tmp_path, engine)
    out = tmp_path/'export'
    r = cli(home, 'export', str(out)); assert r.returncode == 0, r.stderr
    d = json.loads((out/'ledger.json').read_text())
    src = out/'tensors'/d['edits'][0]['file']; os.replace(src, out/'evil.safetensors')
    d['edits'][0]['file'] = '../evil.safetensors'; (out/'ledger.json').write_text(json.dumps(d))
    new = tmp_path/'new'
    one_clear_error(cli(new, 'import', str(out)), "import refused", "not of the ledger's form", 'nothing was imported')
    assert not (new/'ledger'/'ledger.sqlite3').exists() and not (new/'evil.safetensors').exists()
    os.replace(out/'evil.safetensors', src); d['edits'][0]['file'] = src.name
    d['facts'][0]["object) VALUES ('x'); DROP TABLE edits; --"] = 'x'; (out/'ledger.json').write_text(json.dumps(d))
    one_clear_error(cli(new, 'import', str(out)), 'columns the ledger does not have')
    del d['facts'][0]["object) VALUES ('x'); DROP TABLE edits; --"]
    d['facts'][0]['subject'] = '\u200b\u200b'; (out/'ledger.json').write_text(json.dumps(d))    # invisible subject
    one_clear_error(cli(new, 'import', str(out)), 'is not a fact')
    d['facts'][0]['subject'] = 'Ines'; (out/'ledger.json').write_text(json.dumps(d))
    r = cli(new, 'import', str(out)); assert r.returncode == 0, r.stderr    # the clean export imports
    assert live_facts(new) == live_facts(home)
    one_clear_error(cli(new, 'import', str(out)), 'already holds a ledger')


@pytest.mark.parametrize('setting, contains', [
    ('memit.lambda_reg=.nan', 'memit.lambda_reg: nan is not a finite number'),
    ('sleep.max_ppl_increase=.inf', 'sleep.max_ppl_increase: inf is not a finite number'),
    ('memit.target_layers=[3, 99]', 'memit.target_layers: [99] out of range'),
])
def test_bad_settings_are_one_clear_error(tmp_path, setting, contains):
    one_clear_error(cli(tmp_path, '--set', setting, 'status'), contains)
    assert not (tmp_path/'ledger').exists()


def test_a_model_path_that_is_not_a_model(tmp_path):
    junk = tmp_path/'model.bin'; junk.write_bytes(b'\x89PNG not a model at all' * 50)
    one_clear_error(cli(tmp_path, '--set', 'model.source=local', '--set', f'model.path={junk}', 'probe'),
                    f'model.path: {junk} is neither a .gguf file')


def test_a_damaged_user_file(tmp_path, engine):
    home = taught_home(tmp_path, engine); (home/'user.json').write_bytes(b'\x00\xffnot json')
    one_clear_error(cli(home, 'chat', stdin='Hello\n/quit\n'), f"{home/'user.json'} is damaged", 'delete it')
    assert (home/'user.json').read_bytes() == b'\x00\xffnot json' and live_facts(home) == ['Ines:harp', 'Tomas:beekeeper']


def _unshare_ok() -> bool:
    return subprocess.run(['unshare', '-m', 'true'], capture_output=True).returncode == 0


@pytest.mark.skipif(not shutil.which('unshare') or not _unshare_ok(), reason='needs mount namespaces (unshare -m) for a read-only or full disk')
def test_read_only_home_and_full_disk(tmp_path, engine):
    "A read-only home: chat is one clear error, status still reads. A full disk during sleep: one clear error, nothing lost."
    home = taught_home(tmp_path, engine)
    ro = f"mount --bind {home} {home} && mount -o remount,ro,bind {home} {home} && "
    r = subprocess.run(['unshare', '-m', 'sh', '-c', ro + f"{SCRIPT} --set paths.home={home} chat </dev/null"], capture_output=True, text=True, timeout=900)
    one_clear_error(r, f'could not write the memory in {home/"ledger"}', 'Read-only file system')
    r = subprocess.run(['unshare', '-m', 'sh', '-c', ro + f"{SCRIPT} --set paths.home={home} status"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0 and 'Ines plays the → harp' in r.stdout, r.stderr[-2000:]
    # a full disk: the home on a small tmpfs, filled up, then a sleep (which records its checks and may write edits)
    small = tmp_path/'small'; small.mkdir()
    script = (f"mount -t tmpfs -o size=8m tmpfs {small} && cp -a {home}/. {small}/ && "
              f"(dd if=/dev/zero of={small}/filler bs=64k 2>/dev/null; true) && "
              f"{SCRIPT} --set paths.home={small} sleep; echo EXIT=$?; rm {small}/filler; "
              f"{SCRIPT} --set paths.home={small} status --check")
    r = subprocess.run(['unshare', '-m', 'sh', '-c', script], capture_output=True, text=True, timeout=900)
    assert 'EXIT=2' in r.stdout, (r.stdout[-3000:], r.stderr[-3000:])
    err = r.stderr.split('EXIT=2')[0] if 'EXIT=2' in r.stderr else r.stderr
    assert 'could not write the memory' in err and ('No space left on device' in err or 'the disk is full' in err), err[-3000:]
    assert 'Traceback' not in r.stderr, r.stderr[-3000:]
    after = r.stdout.split('EXIT=2', 1)[1]
    assert 'Ines plays the → harp' in after and 'Tomas works as a → beekeeper' in after and '0 facts lost' in after, after
