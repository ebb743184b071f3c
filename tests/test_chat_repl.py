"""The real `sleeping-llm chat` REPL, typed into through a terminal (pexpect), and `sleeping-llm demo` end to end.

Each test has its own SLEEPING_LLM_HOME (a temporary folder), so no ledger of the user's is touched."""
import json, os, subprocess, sys
from pathlib import Path
import pytest
from sleeping_llm.cli import DEMO_KIN

pexpect = pytest.importorskip('pexpect')
SCRIPT = Path(sys.executable).parent/'sleeping-llm'


def _env(home):
    return {**os.environ, 'SLEEPING_LLM_HOME': str(home), 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '2'),
            'TQDM_DISABLE': '0', 'PYTHONIOENCODING': 'utf-8'}


def _spawn(home):
    c = pexpect.spawn(str(SCRIPT), ['chat'], env=_env(home), encoding='utf-8', timeout=600, dimensions=(40, 200))
    c.expect('you> ', timeout=300)
    return c


def _say(c, line, *want):
    c.sendline(line)
    for w in want: c.expect(w)
    c.expect('you> ')
    return c.before


def _log(home):
    logs = sorted((home/'logs').glob('*.jsonl'))
    return [json.loads(l) for p in logs for l in p.read_text(encoding='utf-8').splitlines()]


def test_repl_fact_status_nap_sleep_quit(tmp_path):
    c = _spawn(tmp_path)
    _say(c, 'Hi, my name is Maya Okonkwo. Suki plays the cello.', 'model> ', r'\[remembered\] Suki plays the → cello')
    _say(c, '/status', r'context +\d+/2048 tokens', r'memory +1 facts in 1 active edits, 0 degraded', r'pressure +\d\.\d\d')
    _say(c, '/facts', 'Suki plays the → cello')
    _say(c, '/nap', r'nap: recall \d\.\d\d on 1 recent facts')
    _say(c, '/sleep', r'sleep: 1 facts, \d+ healthy', 'perplexity')
    c.sendline('/quit'); c.expect('bye'); c.expect(pexpect.EOF)
    c.close(); assert c.exitstatus == 0
    kinds = [e['kind'] for e in _log(tmp_path)]
    assert kinds[0] == 'session' and 'inject' in kinds and 'nap' in kinds and 'sleep' in kinds
    # a restart remembers: the ledger is on disk
    r = subprocess.run([str(SCRIPT), 'status'], env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and 'Suki plays the → cello' in r.stdout, r.stdout + r.stderr


def test_repl_reply_first_interrupts_and_resume(tmp_path):
    "The reply comes before [remembered]; Ctrl-C during a write or a sleep keeps the reply and the fact; a kill mid-write loses nothing."
    c = _spawn(tmp_path)
    c.sendline('My neighbour Tomas works as a beekeeper.')
    c.expect('model> '); c.expect(r'\(remembering: .*Tomas works as a → beekeeper\)')
    c.sendintr()                                                   # Ctrl-C while the fact is being written
    c.sendline('')       # a KeyboardInterrupt that finds the REPL waiting for input is raised when the next line comes
    c.expect(r'\[remembered\] Tomas works as a → beekeeper', timeout=600); c.expect('you> ')
    c.sendline('/sleep'); c.expect('sleep'); c.sendintr()            # Ctrl-C during (or just after) a sleep
    c.sendline('')
    c.expect(r'interrupted|empty line'); c.expect('you> ')   # the ^C may also land after the sleep, at the prompt
    _say(c, '/facts', 'Tomas works as a → beekeeper')
    c.sendline('My aunt Hana plays the cello.'); c.expect(r'\(remembering: .*Hana plays the → cello\)')
    c.kill(9); c.close()                                           # gone, maybe mid-write
    c = _spawn(tmp_path)                                           # a new session resumes what was not finished
    c.sendline('/quit'); c.expect('bye'); c.expect(pexpect.EOF); c.close()
    r = subprocess.run([str(SCRIPT), 'status'], env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert 'Tomas works as a → beekeeper' in r.stdout and 'Hana plays the → cello' in r.stdout, r.stdout + r.stderr
    assert 'Traceback' not in r.stdout + r.stderr


def test_chat_help_lists_its_options():
    r = subprocess.run([str(SCRIPT), 'chat', '--help'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    for opt in ('--config', '--home', '--model', '--no-auto-sleep', 'memory'): assert opt in r.stdout, (opt, r.stdout)


def test_repl_bad_input(tmp_path):
    c = _spawn(tmp_path)
    _say(c, '', r'\(empty line')
    _say(c, '   ', r'\(empty line')
    _say(c, '/unknown', "unknown command '/unknown'")
    _say(c, '/', "unknown command '/'")
    _say(c, '😀🎻 ünïcödé — naïve ✨ 你好', 'model> ')
    _say(c, 'Is there a user? No. How are you?', 'model> ')
    c.sendeof(); c.expect(r'\(end of input\) bye'); c.expect(pexpect.EOF)
    c.close(); assert c.exitstatus == 0
    users = [e['content'] for e in _log(tmp_path) if e['kind'] == 'user']
    assert users == ['😀🎻 ünïcödé — naïve ✨ 你好', 'Is there a user? No. How are you?']    # nothing lost, no junk
    assert not [e for e in _log(tmp_path) if e['kind'] == 'inject']


def test_repl_long_line_from_a_pipe(tmp_path):
    "A terminal line is limited to 4096 bytes by the kernel; a pipe is not: 100,000 characters, answered and logged whole."
    long = 'word ' * 20_000
    r = subprocess.run([str(SCRIPT), 'chat'], input=long + '\n\udcff\n/facts\n/status\n', env=_env(tmp_path),
                       capture_output=True, text=True, timeout=600, errors='surrogateescape')
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'long message: 100,000 characters' in r.stdout and 'model> ' in r.stdout and '(nothing yet)' in r.stdout
    assert '(end of input) bye' in r.stdout and 'Traceback' not in r.stdout + r.stderr
    assert any(e['kind'] == 'user' and len(e['content']) == 100_000 for e in _log(tmp_path))


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    out = tmp_path/'out'
    r = subprocess.run([str(SCRIPT), 'demo', '--out', str(out)], env=_env(tmp_path), capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out/'demo.json').read_text())
    assert (out/'demo.png').stat().st_size > 10_000
    assert res['junk'] == 0 and res['ledger_facts'] == 10 + len(DEMO_KIN) and res['corrections'] == 1, res['ledger']
    assert sum(x['raw_ok'] for x in res['base']) == 0
    assert res['raw_recall'] >= 0.8 and res['chat_recall'] >= 0.6, r.stdout[-3000:]
    fix = next(x for x in res['after'] if x['old'])
    assert fix['raw_ok'] and not fix['raw'].strip().lower().startswith(fix['old'].lower())
    print(f"\ndemo: raw {res['raw_recall']:.0%}, chat {res['chat_recall']:.0%}, {res['seconds']}")
