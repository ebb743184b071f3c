#!/usr/bin/env python
"""Concurrency soak of the ledger (issue 20): several processes on one home for minutes, with random kill -9.

    python tools/soak.py                                   # the long acceptance run: 10 min, 4 processes, a kill every ~8 s
    python tools/soak.py --minutes 0.75 --kill-every 2     # the short variant (tests/test_soak.py runs it)

Worker processes share one home on a tiny random model. Most are forked from the parent, which has loaded the model
once (so a restarted worker is at work within a second and kills land in its ledger calls); a share `--exec-share` are
fresh interpreters (this file run as `--worker ROLE`), so kills also land in imports, model loading and opening the
ledger:
- writers (chat-like) teach one fact at a time (their own slice of `data/facts/facts.json`, then generated facts),
  committed with `Ledger.add` or through a stage; only after the commit returns is `commit FACT EDIT` appended to the
  worker's journal and fsynced: the journals are the ground truth of what was committed;
- sleepers refresh applied edits (a stage: take out, re-solve, add replacing the old), abandon some stages on purpose
  (an exception inside `with led.stage()` discards it), prune edits and restore them later;
- readers (status-like) open the ledger read-only over and over and check that no edit is quarantined (`lost()`; a
  file of an uncommitted edit that a kill left and a sweep moved to `recovered/` is counted apart: it was never
  committed, and its writer teaches the fact again when it restarts).
The parent SIGKILLs a random worker every `--kill-every` seconds (randomised ±50 %) and restarts it at once. At the
end every worker is killed, and a fresh writer checks the home: every journalled fact is live (a refreshed fact under
its new edit; a fact a killed sleeper left pruned is restored and must then be live), no edit is lost, the weights at
the edited layers equal base + Σ scale·UVᵀ of the applied edits bit for bit, and the home takes a new edit and
re-opens (otherwise it counts as bricked). Kills inside a commit, unreferenced tensor files left at the end (`orphans_at_end`,
swept by the next writer: `orphans_left`) and files in `recovered/` are reported, not failed. The counts go to `--out` (JSON, written atomically); the exit status is 0
only if no fact was lost, no home bricked and the weights were exact.
"""
from __future__ import annotations
import argparse, json, os, platform, random, shutil, signal, sqlite3, subprocess, sys, tempfile, time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
CITIES = ['Lisbon', 'Oslo', 'Cairo', 'Lima', 'Quito', 'Hanoi', 'Dakar', 'Perth', 'Riga', 'Tunis', 'Porto', 'Accra']
TENSOR_RE = r'\d{19}-[1-9]\d{0,9}-\d{1,6}\.safetensors(?:\.[a-z0-9_]{8}\.tmp)?'   # the ledger's own file names


# ---------------------------------------------------------------- journals: one append-only text file per worker slot
class Journal:
    "Tab-separated lines appended with one write each; `sync` lines are fsynced before `write` returns."
    def __init__(self, path: Path): self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    def write(self, *fields, sync=False):
        os.write(self.fd, ('\t'.join(str(f).replace('\t', ' ').replace('\n', ' ') for f in fields) + '\n').encode())
        if sync: os.fsync(self.fd)

def read_journal(path: Path) -> list[list[str]]:
    "The complete lines of a journal (a line a kill cut short, without its newline, is left out)."
    try: text = Path(path).read_text(errors='replace')
    except FileNotFoundError: return []
    return [l.split('\t') for l in text.split('\n')[:-1] if l]


# ---------------------------------------------------------------- the workers
def _die_with_parent(parent: int):
    "Linux: get SIGKILL when the soak's parent dies (so no worker outlives an aborted soak); elsewhere: polled."
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception: pass
    if os.getppid() != parent: os._exit(3)

def _orphaned(a) -> bool: return os.getppid() != a.parent

def _setup(model=None):
    "The model, MEMIT settings (fast: one v* step, no prefixes), identity covariance and facts, as in the concurrency tests."
    if model is not None: return model
    import torch
    torch.set_num_threads(1)
    from sleeping_llm.core import load_facts, config_with
    from sleeping_llm.torch_backend import tiny_lm
    from sleeping_llm.covariance import Covariance
    lm = tiny_lm(); hp = config_with(lm.cfg, {'memit.v_steps': 1, 'memit.n_prefixes': 0}).memit
    return lm, hp, Covariance.identity(128, hp.target_layers), load_facts()[0]

def _instrument(a):
    """Mark each ledger commit with a file `commit-PID` beside the journals while it runs (the parent counts kills that land
    inside one), and wait `--commit-delay` s after a commit's tensor file is written, before its transaction (a slow disk:
    it widens the window in which a kill leaves an unreferenced file behind). The library itself is not changed."""
    from sleeping_llm import ledger as L
    mark, commit, write = Path(a.journal).parent/f'commit-{os.getpid()}', L.Ledger.commit, L.write_tensors
    def marked(self, *args, **kw):
        mark.touch()
        try: return commit(self, *args, **kw)
        finally: mark.unlink(missing_ok=True)
    def slow(*args, **kw):
        digest = write(*args, **kw); time.sleep(a.commit_delay); return digest
    L.Ledger.commit = marked
    if a.commit_delay > 0: L.write_tensors = slow

def _lost(led) -> tuple[list[dict], list[dict]]:
    """(quarantined edits: applied in the ledger, missing from the weights; recovered files of uncommitted edits whose facts
    are not live), from `Ledger.lost()` whichever module provides it (`sleeping_llm.integrity` patches it in, if present).
    A kill between an edit's file and its transaction legitimately leaves the second kind: that edit was never committed."""
    try: import sleeping_llm.integrity  # noqa: F401
    except ImportError: pass
    items = led.lost() if hasattr(led, 'lost') else [dict(edit_id=i, reason=w, message=m) for i, (w, m) in led._lost.items()]
    return [x for x in items if x.get('edit_id') is not None], [x for x in items if x.get('edit_id') is None]

def _foreign(led) -> list[str]:
    return led.foreign_files() if hasattr(led, 'foreign_files') else []

def _ready(a):
    "Mark this process as past its imports, with the ledger open (the parent counts kills of working processes)."
    (Path(a.journal).parent/f'ready-{os.getpid()}').touch()

def writer(a, rng: random.Random, model=None):
    from sleeping_llm.core import Fact, EditError
    from sleeping_llm.memit import memit
    from sleeping_llm.ledger import Ledger, LedgerError, STATUSES
    lm, hp, cov, facts = _setup(model); _instrument(a)
    led = Ledger(a.home, lm, timeout=a.lock_timeout); j = Journal(Path(a.journal))
    taught = {r['fact'].id for r in led.facts(STATUSES)}        # what an earlier incarnation of this slot committed
    j.write('start', os.getpid()); _ready(a)
    def candidates():
        yield from facts[a.index::a.writers]
        n = 0
        while True:
            yield Fact(f'Soak{a.index} person {n}', '{} lives in the city of', CITIES[n % len(CITIES)], relation='city',
                       id=f'soak-{a.index}-{n}')
            n += 1
    for f in candidates():
        if f.id in taught: continue
        while True:
            if _orphaned(a): return
            try:
                e = memit(lm, [f], cov, hp)
                if rng.random() < 0.5: i = led.add(e)
                else:                                           # as wake does it: a stage, committed at the end
                    with led.stage() as st: st.add(e)
                    i = st.ids[0]
            except EditError as x: j.write('skip', f.id, x); break
            except LedgerError as x:
                j.write('refused', f.id, x)
                if 'already has a live edit' in str(x): break
                time.sleep(0.2); continue
            j.write('commit', f.id, i, sync=True)              # only now is the fact committed, as far as the soak knows
            taught.add(f.id)
            try: led.record([(r['id'], 'raw', True, '') for r in led.facts() if r['edit_id'] == i], f'soak writer {a.index}')
            except LedgerError as x: j.write('refused', 'record', x)
            break
        time.sleep(rng.uniform(0, 2 * a.pause))

class Abandon(Exception): "Raised inside a stage to make it discard."

def sleeper(a, rng: random.Random, model=None):
    from sleeping_llm.memit import memit
    from sleeping_llm.ledger import Ledger, LedgerError
    lm, hp, cov, _ = _setup(model); _instrument(a)
    led = Ledger(a.home, lm, timeout=a.lock_timeout); j = Journal(Path(a.journal))
    mine = lambda ids: [i for i in ids if i % a.sleepers == a.index]    # sleepers never touch the same edit
    pruned = lambda: mine(r['id'] for r in led.edit_rows(('pruned',)))
    j.write('start', os.getpid()); _ready(a)
    for i in pruned(): led.restore(i); j.write('restore', i, sync=True)  # what a killed incarnation set aside
    while not _orphaned(a):
        try:
            applied, r = mine(led.applied()), rng.random()
            if pruned() and r < 0.15:
                i = rng.choice(pruned()); led.restore(i); j.write('restore', i, sync=True)
            elif not applied: pass
            elif r < 0.65:                                      # refresh one or two edits in one stage commit
                old = rng.sample(applied, min(len(applied), rng.choice((1, 1, 2))))
                edits = [led.edit(i) for i in old]
                with led.stage() as st:
                    st.take_out(old)
                    for i, e in zip(old, edits): st.add(memit(lm, e.facts, cov, hp), replaces=[i])
                for i, n in zip(old, st.ids): j.write('refresh', i, n, sync=True)
                try: led.record([(r['id'], 'raw', True, '') for r in led.facts() if r['edit_id'] in st.ids], 'soak sleep')
                except LedgerError as x: j.write('refused', 'record', x)
            elif r < 0.85:                                      # a stage abandoned halfway: the ledger must not change
                i = rng.choice(applied); e = led.edit(i)
                try:
                    with led.stage() as st:
                        st.take_out([i]); st.add(memit(lm, e.facts, cov, hp), replaces=[i]); raise Abandon()
                except Abandon: pass
                if st.state != 'discarded' or i not in led.applied(): j.write('anomaly', f'discarded stage changed edit {i}', sync=True)
                j.write('discard', i)
            else:                                               # set one aside (restored later, or at the end)
                i = rng.choice(applied)
                if rng.random() < 0.5: led.prune(i)
                else:
                    with led.stage() as st: st.prune([i])
                j.write('prune', i, sync=True)
        except LedgerError as x: j.write('refused', x); time.sleep(0.2)
        time.sleep(rng.uniform(0, 2 * a.pause))

def reader(a, rng: random.Random, model=None):
    from sleeping_llm.ledger import Ledger
    lm, *_ = _setup(model); j = Journal(Path(a.journal))
    j.write('start', os.getpid()); _ready(a)
    while not _orphaned(a):
        led = Ledger(a.home, lm, read_only=True)
        n, (lost, uncommitted) = len(led.facts()), _lost(led); led.close()
        if lost: j.write('lost', json.dumps([(x['edit_id'], x['reason']) for x in lost]), sync=True)
        if uncommitted: j.write('uncommitted', len(uncommitted))
        j.write('read', n)
        time.sleep(rng.uniform(0, a.pause))

def init(a, rng: random.Random | None = None, model=None):
    "Create the home."
    from sleeping_llm.ledger import Ledger
    Ledger(a.home, _setup(model)[0]).close()

WORKERS = dict(writer=writer, sleeper=sleeper, reader=reader, init=init)


# ---------------------------------------------------------------- the final check
def expected_weights(folder: Path, base: dict) -> dict:
    "base + Σ scale·UVᵀ over the applied edits, in id order, computed here from the files (the ledger's own formula)."
    import torch
    from safetensors.torch import load_file
    db = sqlite3.connect(f'file:{Path(folder).absolute()/"ledger.sqlite3"}?mode=ro', uri=True)
    try: rows = db.execute("SELECT scale, file FROM edits WHERE status IN ('active','degraded') ORDER BY id").fetchall()
    finally: db.close()
    files = [(s, load_file(Path(folder)/'tensors'/f)) for s, f in rows]
    out = {}
    for l, W0 in base.items():
        parts = [(t[f'U.{l}'] * s, t[f'V.{l}']) for s, t in files if f'U.{l}' in t and s != 0]
        if not parts: out[l] = W0.clone(); continue
        U = torch.cat([u for u, _ in parts], 1).float(); V = torch.cat([v for _, v in parts], 1).float()
        out[l] = (W0.float() + U @ V.T).to(W0.dtype)
    return out

def _weights_exact(lm, folder: Path, base: dict) -> bool:
    "Whether the model's edited layers are base + Σ applied edits bit for bit (not, if a file cannot be read)."
    import torch
    try: want = expected_weights(folder, base)
    except Exception: return False
    return all(torch.equal(lm.read_down(l), want[l]) for l in base)

def unreferenced_files(folder: Path) -> tuple[list[str], list[str]]:
    "(the ledger's own files that no edit row names: orphans a kill left; other names in tensors/), read without opening a Ledger."
    import re
    try: from sleeping_llm.ledger import TENSOR_NAME; own_name = TENSOR_NAME.pattern
    except ImportError: own_name = TENSOR_RE
    tensors = Path(folder)/'tensors'
    if not tensors.is_dir(): return [], []
    db = sqlite3.connect(f'file:{Path(folder).absolute()/"ledger.sqlite3"}?mode=ro', uri=True)
    try: known = {r[0] for r in db.execute('SELECT file FROM edits')}
    finally: db.close()
    names = sorted(p.name for p in tensors.iterdir() if p.name not in known)
    own = [n for n in names if re.fullmatch(own_name, n)]
    return own, [n for n in names if n not in own]

def verify(home: Path, journals: Path, model=None) -> dict:
    "Check a home after the soak against the writers' journals; every worker must be dead. The verification part of the report."
    committed = {}
    for p in sorted(Path(journals).glob('writer-*.log')):
        for w in read_journal(p):
            if w[0] == 'commit' and len(w) == 3: committed[w[1]] = int(w[2])
    res = dict(facts_committed=len(committed), facts_lost=0, lost_facts=[], facts_pruned_at_end=0, facts_duplicated=0,
               lost_edits=0, homes_bricked=0, brick_error='', weights_exact=False, applied_edits=0, edits_total=0,
               orphans_at_end=0, orphans_left=0, recovered_files=0, uncommitted_recovered=0, foreign_files=[])
    try: res['orphans_at_end'] = len(unreferenced_files(home)[0])
    except Exception: res['orphans_at_end'] = -1                  # an unreadable database: opening it below decides
    step = 'loading the model'
    try:
        from sleeping_llm.core import Fact
        from sleeping_llm.memit import memit
        from sleeping_llm.ledger import Ledger
        lm, hp, cov, _ = _setup(model)
        base = {l: lm.read_down(l).clone() for l in lm.cfg.memit.target_layers}
        step = 'opening the home as a writer'
        led = Ledger(home, lm, timeout=60)
        try:
            step = 'checking the home'
            quarantined = {x['edit_id'] for x in _lost(led)[0]}; res['lost_edits'] = len(quarantined)
            exact = _weights_exact(lm, home, base)
            live = Counter(r['fact'].id for r in led.facts() if r['edit_id'] not in quarantined)
            pruned = {r['fact'].id for r in led.facts(('pruned',))}
            missing = {f for f in committed if f not in live and f not in pruned}
            res['facts_pruned_at_end'] = sum(f in pruned for f in committed)
            res['facts_duplicated'] = sum(c > 1 for c in live.values())
            orphans, foreign = unreferenced_files(home)       # the writer's open swept what dead processes left
            res['orphans_left'], res['foreign_files'] = len(orphans), sorted(set(foreign + _foreign(led)))
            rec = Path(home)/'recovered'; res['recovered_files'] = len(list(rec.iterdir())) if rec.is_dir() else 0
            step = 'restoring the pruned edits'                 # a home whose set-aside facts cannot come back is not usable
            ids = [r['id'] for r in led.edit_rows(('pruned',))]
            if ids: led.commit(status={i: 'active' for i in ids})
            step = 'teaching a new fact'
            final = f'soak-final-{time.time_ns()}'
            f = Fact(f'Soak check {final[11:]}', '{} lives in the city of', 'Oslo', relation='city', id=final)
            led.add(memit(lm, [f], cov, hp))
        finally: led.close()
        step = 're-opening the home read-only'
        Ledger(home, lm, read_only=True).close()
        step = 're-opening the home as a writer'
        led = Ledger(home, lm, timeout=60)
        try:
            step = 'checking the re-opened home'
            lost, uncommitted = _lost(led); quarantined = {x['edit_id'] for x in lost}
            res['lost_edits'] = max(res['lost_edits'], len(quarantined)); res['uncommitted_recovered'] = len(uncommitted)
            res['weights_exact'] = exact and _weights_exact(lm, home, base)
            live = {r['fact'].id for r in led.facts() if r['edit_id'] not in quarantined}
            missing |= {f for f in committed if f not in live}
            if final not in live: raise RuntimeError('the fact taught by the check is not live after re-opening')
            res['applied_edits'], res['edits_total'] = len(led.applied()), len(led.edit_rows())
        finally: led.close()
        res['facts_lost'], res['lost_facts'] = len(missing), sorted(missing)[:50]
    except Exception as e:
        import traceback
        res['homes_bricked'] = 1
        res['brick_error'] = f'{step}: {type(e).__name__}: {e}'
        res['brick_traceback'] = traceback.format_exc()[-4000:]
    return res


# ---------------------------------------------------------------- the parent: spawn, kill, restart, verify, report
class Proc:
    "A worker process: forked from this one (`popen` None) or a fresh interpreter; polled, killed and reaped alike."
    def __init__(self, pid: int, popen: subprocess.Popen | None = None, forked=True):
        self.pid, self.popen, self.forked, self.returncode = pid, popen, forked, None
    def poll(self):
        if self.returncode is None:
            if self.popen is not None: self.returncode = self.popen.poll()
            else:
                try: pid, st = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError: self.returncode = -255     # not ours any more (cannot happen: nobody else reaps)
                else:
                    if pid: self.returncode = os.waitstatus_to_exitcode(st)
        return self.returncode
    def kill(self):
        if self.poll() is None:
            try: os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError: pass
    def wait(self, timeout=15.0) -> bool:
        "Reap it (so its pid is free: the ledger's sweep asks whether a file's writer still runs); False if it outlived `timeout`."
        end = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > end: return False
            time.sleep(0.01)
        return True

class Slot:
    "One of the concurrent workers: its role, index, journal and log; `p` is its current process."
    def __init__(self, role, index, journal, log): self.role, self.index, self.journal, self.log, self.p = role, index, journal, log, None
    @property
    def name(self): return f'{self.role}-{self.index}'

def _worker_args(a, role, index, journal, seed) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(a), 'worker': role, 'index': index, 'journal': str(journal), 'parent': os.getpid(), 'seed': seed})

def _fork(a, role, index, journal, log, seed, model) -> Proc:
    "Run worker `role` in a child forked from this process, which has the model loaded; output to `log`."
    sys.stdout.flush(); sys.stderr.flush()
    w = _worker_args(a, role, index, journal, seed)                # in the parent: its pid is the worker's `parent`
    pid = os.fork()
    if pid: return Proc(pid)
    code = 1                                                     # the child: never returns into the parent's code
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL); signal.signal(signal.SIGINT, signal.SIG_DFL)
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644); os.dup2(fd, 1); os.dup2(fd, 2); os.close(fd)
        _die_with_parent(w.parent)
        WORKERS[role](w, random.Random(seed), model=model); code = 0
    except BaseException:
        import traceback; traceback.print_exc(); sys.stderr.flush()
    finally: os._exit(code)

def _exec(a, role, index, journal, log, seed) -> Proc:
    "Run worker `role` in a fresh interpreter (it imports and loads the model itself); output to `log`."
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', TOKENIZERS_PARALLELISM='false', PYTHONWARNINGS='ignore')
    cmd = [sys.executable, str(Path(__file__).resolve()), '--worker', role, '--index', str(index), '--home', str(a.home),
           '--journal', str(journal), '--parent', str(os.getpid()), '--seed', str(seed), '--writers', str(a.writers),
           '--sleepers', str(a.sleepers), '--pause', str(a.pause), '--lock-timeout', str(a.lock_timeout),
           '--commit-delay', str(a.commit_delay)]
    with open(log, 'ab') as f:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f, env=env, cwd=str(ROOT))
    return Proc(p.pid, p, forked=False)

def _tail(path: Path, n=1500) -> str:
    try: return path.read_bytes()[-n:].decode(errors='replace')
    except OSError: return ''

def _atomic_json(path: Path, d: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + '.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'w') as f: json.dump(d, f, indent=1); f.write('\n'); f.flush(); os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True); raise

def _machine() -> dict:
    d = dict(cpus=os.cpu_count(), platform=platform.platform(), python=platform.python_version())
    try:
        import torch; d['torch'] = torch.__version__
    except Exception: pass
    return d

class Stop(Exception): "SIGTERM to the parent."

def _on_term(*_): raise Stop()

def soak(a) -> int:
    rng = random.Random(a.seed)
    work = Path(a.workdir or tempfile.mkdtemp(prefix='sleeping-llm-soak-')).resolve()
    a.home = Path(a.home).resolve() if a.home else work/'home'
    journals, logs = work/'journals', work/'logs'
    journals.mkdir(parents=True, exist_ok=True); logs.mkdir(parents=True, exist_ok=True)
    slots = [Slot(role, k, journals/f'{role}-{k}.log', logs/f'{role}-{k}.log')
             for role, n in (('writer', a.writers), ('sleeper', a.sleepers), ('reader', a.readers)) for k in range(n)]
    started, t_start = datetime.now(timezone.utc), time.monotonic()
    print(f'soak: {len(slots)} workers ({a.writers} writers, {a.sleepers} sleepers, {a.readers} readers) on {a.home} '
          f'for {a.minutes:g} min, a kill every ~{a.kill_every:g} s', flush=True)
    model = _setup()                                             # loaded once; forked workers share it (copy-on-write)
    n = Counter(); kill_roles, crash_logs, min_live, interrupted = Counter(), [], len(slots), None

    def spawn(s: Slot, first=False):
        seed = rng.getrandbits(32)
        if not first and rng.random() < a.exec_share: s.p = _exec(a, s.role, s.index, s.journal, s.log, seed); n['spawned_exec'] += 1
        else: s.p = _fork(a, s.role, s.index, s.journal, s.log, seed, model); n['spawned_forked'] += 1

    def crashed(s: Slot):
        n['crashes'] += 1
        if len(crash_logs) < 5: crash_logs.append(dict(worker=s.name, rc=s.p.returncode, log_tail=_tail(s.log)))

    old_term = signal.signal(signal.SIGTERM, _on_term)
    procs, t0 = [], time.monotonic()
    try:
        init = _fork(a, 'init', 0, journals/'init.log', logs/'init.log', 0, model); procs.append(init)
        if not init.wait(300) or init.returncode != 0: raise SystemExit(f'soak: could not create the home: {_tail(logs/"init.log")}')
        t0 = time.monotonic(); end = t0 + 60 * a.minutes
        for s in slots: spawn(s, first=True)
        next_kill = t0 + a.kill_every * rng.uniform(0.5, 1.5)
        while time.monotonic() < end:
            for s in slots:                                      # a worker that stopped by itself crashed: count, restart
                if s.p.poll() is not None: crashed(s); spawn(s)
            if time.monotonic() >= next_kill:
                ready = [s for s in slots if (journals/f'ready-{s.p.pid}').exists()]   # past its setup, at work
                s = rng.choice(ready if ready and rng.random() < a.kill_working else slots)
                was_ready, in_commit = (journals/f'ready-{s.p.pid}').exists(), (journals/f'commit-{s.p.pid}').exists()
                s.p.kill()
                if not s.p.wait(): n['unreaped'] += 1; procs.append(s.p)
                for m in ('ready', 'commit'): (journals/f'{m}-{s.p.pid}').unlink(missing_ok=True)
                if s.p.returncode == -signal.SIGKILL:             # killed by us (not exited just before)
                    n['kills'] += 1; kill_roles[s.role] += 1
                    n['kills_of_working_processes'] += was_ready; n['kills_inside_a_commit'] += in_commit
                    n['kills_of_fresh_interpreters'] += not s.p.forked
                else: crashed(s)
                spawn(s)
                next_kill = time.monotonic() + a.kill_every * rng.uniform(0.5, 1.5)
            min_live = min(min_live, sum(s.p.poll() is None for s in slots))
            time.sleep(0.05)
    except (KeyboardInterrupt, Stop) as e:
        interrupted = type(e).__name__
    finally:                                                     # every child is killed and reaped, whatever happened
        procs += [s.p for s in slots if s.p is not None]
        for p in procs: p.kill()
        for p in procs:
            if not p.wait(): n['unreaped'] += 1
        signal.signal(signal.SIGTERM, old_term)
    if interrupted: print(f'soak: interrupted ({interrupted}); checking the home anyway', flush=True)
    soak_s = time.monotonic() - t0

    print('soak: checking the home ...', flush=True)
    res = verify(a.home, journals, model)
    lines = {s: read_journal(s.journal) for s in slots}
    count = lambda role, kind: sum(w[0] == kind for s, ws in lines.items() if s.role == role for w in ws)
    report = dict(
        processes=dict(concurrent=len(slots), writers=a.writers, sleepers=a.sleepers, readers=a.readers,
                       spawned=n['spawned_forked'] + n['spawned_exec'], spawned_forked=n['spawned_forked'],
                       spawned_exec=n['spawned_exec'], min_concurrent_observed=min_live),
        minutes=a.minutes, soak_minutes=round(soak_s / 60, 3), kill_every_s=a.kill_every, kill_working=a.kill_working,
        exec_share=a.exec_share, commit_delay_s=a.commit_delay, pause_s=a.pause, seed=a.seed,
        writes=count('writer', 'commit'), refreshes=count('sleeper', 'refresh'), discards=count('sleeper', 'discard'),
        prunes=count('sleeper', 'prune'), restores=count('sleeper', 'restore'), reads=count('reader', 'read'),
        refused=sum(w[0] == 'refused' for ws in lines.values() for w in ws),
        kills=n['kills'], kills_of_working_processes=n['kills_of_working_processes'],
        kills_inside_a_commit=n['kills_inside_a_commit'], kills_of_fresh_interpreters=n['kills_of_fresh_interpreters'],
        kills_by_role=dict(kill_roles), worker_crashes=n['crashes'], crash_logs=crash_logs, unreaped=n['unreaped'],
        reader_saw_lost=count('reader', 'lost'), reader_saw_uncommitted=count('reader', 'uncommitted'),
        anomalies=[w[1:] for ws in lines.values() for w in ws if w[0] == 'anomaly'][:20],
        **res,
        interrupted=interrupted, home=str(a.home), workdir=str(work), machine=_machine(),
        started=started.isoformat(timespec='seconds'), finished=datetime.now(timezone.utc).isoformat(timespec='seconds'),
        wall_s=round(time.monotonic() - t_start, 1), command=' '.join([Path(sys.executable).name, *sys.argv]))
    ok = res['facts_lost'] == 0 and res['homes_bricked'] == 0 and res['weights_exact']
    report['ok'] = ok
    _atomic_json(Path(a.out), report)
    r = report
    print(f"soak: {r['soak_minutes']:.2f} min, {len(slots)} concurrent workers ({r['processes']['spawned']} spawned, "
          f"{r['processes']['spawned_exec']} as fresh interpreters), {r['kills']} kills ({r['kills_of_working_processes']} "
          f"of working processes, {r['kills_inside_a_commit']} inside a commit), {r['writes']} writes, {r['refreshes']} refreshes, "
          f"{r['discards']} discards, {r['prunes']} prunes, {r['restores']} restores, {r['reads']} reads, {r['worker_crashes']} crashes", flush=True)
    print(f"soak: facts committed {res['facts_committed']}, lost {res['facts_lost']}, lost edits {res['lost_edits']}, "
          f"homes bricked {res['homes_bricked']}{' (' + res['brick_error'] + ')' if res['brick_error'] else ''}, "
          f"weights exact {res['weights_exact']}, orphans {res['orphans_at_end']} at the end / {res['orphans_left']} after "
          f"re-opening, {res['recovered_files']} in recovered/ -> {'OK' if ok else 'FAILED'}; {a.out}", flush=True)
    if ok and not a.keep and not a.workdir and not interrupted: shutil.rmtree(work, ignore_errors=True)
    else: print(f'soak: home, journals and worker logs kept in {work}', flush=True)
    return 0 if ok and not interrupted else 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--minutes', type=float, default=10.0, help='how long the workers run (default 10)')
    p.add_argument('--writers', type=int, default=2, help='chat-like writer processes (default 2)')
    p.add_argument('--sleepers', type=int, default=1, help='sleep-like refreshing processes (default 1)')
    p.add_argument('--readers', type=int, default=1, help='status-like read-only processes (default 1)')
    p.add_argument('--kill-every', type=float, default=8.0, help='mean seconds between kills, randomised ±50%% (default 8)')
    p.add_argument('--kill-working', type=float, default=0.8,
                   help='share of kills aimed at workers past their setup, when any is (default 0.8; the rest hit any worker)')
    p.add_argument('--exec-share', type=float, default=0.2,
                   help='share of restarts as a fresh interpreter instead of a fork of the loaded parent (default 0.2)')
    p.add_argument('--pause', type=float, default=0.5, help='mean seconds a worker waits between its operations (default 0.5)')
    p.add_argument('--commit-delay', type=float, default=0.1,
                   help="seconds a worker's commit waits between writing its tensor file and its transaction (default 0.1)")
    p.add_argument('--lock-timeout', type=float, default=60.0, help='seconds a worker waits for the writer lock (default 60)')
    p.add_argument('--seed', type=int, default=0, help='seeds the kill schedule and the workers (timing still varies)')
    p.add_argument('--home', help='the home to soak (default: a fresh one in the work folder)')
    p.add_argument('--workdir', help='folder for the home, journals and logs (default: a temporary one, removed if the soak passes)')
    p.add_argument('--keep', action='store_true', help='keep the temporary work folder even if the soak passes')
    p.add_argument('--out', default=str(ROOT/'data'/'results'/'integrity'/'soak.json'), help='the JSON report')
    p.add_argument('--worker', choices=list(WORKERS), help=argparse.SUPPRESS)
    p.add_argument('--index', type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument('--journal', help=argparse.SUPPRESS)
    p.add_argument('--parent', type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ.setdefault(k, '1')   # before torch: forks stay safe
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
    if a.worker:
        _die_with_parent(a.parent)
        WORKERS[a.worker](a, random.Random(a.seed)); return 0
    if min(a.writers, a.sleepers, a.readers) < 0 or a.writers + a.sleepers + a.readers < 1: p.error('at least one worker')
    if a.kill_every <= 0 or a.minutes <= 0: p.error('--kill-every and --minutes must be positive')
    return soak(a)


if __name__ == '__main__':
    sys.exit(main())
