"""The chat notebook as a user meets it: JupyterLab headless, the notebook opened and run in Chromium, a fact typed
into the chat panel (Shift+Enter a new line, Enter sends), the reply streamed before the fact is written in the
background, Sleep pressed (its bar moving during the perplexity check), the report awaited, the key-overlap heatmap
drawn and its layer slider moved.

The notebook is copied to a temporary folder (Lab autosaves; the repository's copy stays untouched) with a kernel of
this Python registered in a temporary JUPYTER_PATH (so no kernel needs installing first), one thread per process,
and this checkout on its path. Writes a screenshot and the timings to `data/results/widgets/`. Needs the `widgets`
and `browser` extras and Debian's chromium (CI installs them); elsewhere it is skipped, in CI it fails."""
import importlib.util, json, os, secrets, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest
from test_docs_site import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT/'data'/'results'/'widgets'
KERNEL = 'sleeping-llm-browser-test'
FACT, FACT2 = 'Suki plays the cello.', 'Ines lives in Lisbon.'

pytestmark = pytest.mark.slow


def _require():
    missing = [m for m in ('jupyterlab', 'ipywidgets', 'anywidget', 'plotly', 'playwright') if not importlib.util.find_spec(m)]
    if not Path(CHROMIUM).exists(): missing.append(CHROMIUM)
    if missing:
        msg = f"widget browser test needs {', '.join(missing)}: pip install -e '.[widgets,browser]', apt-get install chromium"
        if os.environ.get('CI'): pytest.fail(msg)
        pytest.skip(msg)


def _free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "JupyterLab on 127.0.0.1 serving a copy of the chat notebook, with a kernel of this Python."
    _require()
    work = tmp_path_factory.mktemp('lab')
    spec = work/'jupyter'/'kernels'/KERNEL; spec.mkdir(parents=True)
    env_k = {'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1',
             'TRANSFORMERS_OFFLINE': '1', 'SLEEPING_LLM_HOME': str(work/'home')}
    (spec/'kernel.json').write_text(json.dumps({'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
                                                'display_name': 'sleeping_llm (test)', 'language': 'python', 'env': env_k}))
    nb = json.loads((ROOT/'nbs'/'11_chat_widget.ipynb').read_text())
    nb['metadata']['kernelspec'] = {'name': KERNEL, 'display_name': 'sleeping_llm (test)', 'language': 'python'}
    (work/'chat.ipynb').write_text(json.dumps(nb))
    env = {**os.environ, 'JUPYTER_PATH': str(work/'jupyter'), 'JUPYTER_CONFIG_DIR': str(work/'config'),
           'JUPYTERLAB_WORKSPACES_DIR': str(work/'workspaces'), 'JUPYTER_RUNTIME_DIR': str(work/'runtime'), 'IPYTHONDIR': str(work/'ipython')}
    port, token = _free_port(), secrets.token_hex(12)
    log = open(work/'lab.log', 'w')
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--allow-root', '--ip', '127.0.0.1',
                             f'--port={port}', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={work}',
                             '--LabApp.expose_app_in_browser=True', '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    base = f'http://127.0.0.1:{port}/'
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f'{base}api/status?token={token}', timeout=2); break
            except OSError:
                if proc.poll() is not None: pytest.fail(f"jupyter lab exited: {(work/'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        else: pytest.fail(f"jupyter lab did not answer: {(work/'lab.log').read_text()[-2000:]}")
        yield dict(url=f'{base}lab/tree/chat.ipynb?token={token}', work=work, start_s=time.perf_counter() - t0)
    finally:
        proc.terminate()
        try: proc.wait(15)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
        log.close()


NOTEBOOK = "window.jupyterapp.shell.currentWidget"
KERNEL_IDLE = f"() => {{ const w = {NOTEBOOK}; const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel; return !!k && k.status === 'idle'; }}"
CELL_STATE = f"""() => {{ const m = {NOTEBOOK}.content.model; const errors = []; let pending = 0;
  for (let i = 0; i < m.cells.length; i++) {{ const c = m.cells.get(i); if (c.type !== 'code') continue;
    if (c.executionCount === null) pending++;
    for (const o of c.outputs.toJSON()) if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue); }}
  return {{pending, errors}}; }}"""


def _text(page, sel) -> str: return page.locator(sel).first.inner_text()


def test_chat_notebook_in_the_browser(lab):
    from playwright.sync_api import sync_playwright
    times = {'lab_start_s': lab['start_s']}; t = time.perf_counter
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={'width': 1300, 'height': 2300})
        errors = []
        page.on('pageerror', lambda e: errors.append(str(e)))
        try:
            t0 = t()
            page.goto(lab['url'])
            page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=60_000)
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
            times['open_s'] = t() - t0; t0 = t()
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_selector('.sl-chat .sl-send', timeout=300_000)
            page.wait_for_function(f"() => ({CELL_STATE})().pending === 0", timeout=120_000)
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
            state = page.evaluate(f"({CELL_STATE})()")
            assert state['errors'] == [], state['errors']
            times['run_all_s'] = t() - t0
            assert 'No facts yet' in _text(page, '.sl-facts')
            page.wait_for_selector('.sl-heatmap .main-svg', timeout=90_000)

            box = page.locator('.sl-input textarea')                     # Shift+Enter: a new line, nothing sent
            box.click(); box.type('Hello'); box.press('Shift+Enter'); box.type('there')
            assert box.input_value() == 'Hello\nthere' and page.locator('.sl-transcript .sl-user').count() == 0
            box.fill('')
            page.evaluate("""() => { window.__replies = []; const t = document.querySelector('.sl-transcript');
              new MutationObserver(() => { const r = t.querySelector('.sl-model'); if (r) window.__replies.push(r.innerText); })
                .observe(t, {childList: true, subtree: true, characterData: true}); }""")
            t0 = t()                                                      # a fact, typed and sent with Enter
            box.fill(FACT); box.press('Enter')
            page.wait_for_function("() => document.querySelector('.sl-notice').innerText.includes('thinking')", timeout=60_000)
            page.wait_for_function("() => document.querySelector('.sl-transcript').innerText.includes('remembering')", timeout=180_000)
            times['reply_s'] = t() - t0                                   # the reply is there before the fact is written
            replies = [r.split('remembering')[0].strip() for r in page.evaluate('window.__replies')]
            assert len({r for r in replies if r and r != '…'}) >= 2, replies   # it streamed: the reply grew in steps
            page.wait_for_function("() => document.querySelector('.sl-facts').innerText.includes('cello')", timeout=180_000)
            page.wait_for_function("() => !document.querySelector('.sl-notice').innerText.trim()", timeout=60_000)
            times['turn_s'] = t() - t0
            chat = _text(page, '.sl-transcript')
            assert FACT in chat and 'remembered: Suki plays the → cello' in chat, chat
            replies = page.locator('.sl-transcript .sl-model')
            assert replies.count() == 1 and len(replies.first.inner_text().split('remembered:')[0].strip()) > 0
            facts = _text(page, '.sl-facts')
            assert 'Suki plays the → cello' in facts and 'healthy (1/1)' in facts, facts    # the embedded model recalls it
            assert box.input_value() == ''
            box.fill(FACT2); box.press('Enter')                           # a second fact: the sleep has two edits to consolidate
            page.wait_for_function("() => document.querySelector('.sl-facts').innerText.includes('Lisbon')", timeout=180_000)
            page.wait_for_function("() => !document.querySelector('.sl-notice').innerText.trim()", timeout=60_000)

            page.evaluate("""() => { window.__bar = []; const b = document.querySelector('.sl-progress .progress-bar');
              new MutationObserver(() => window.__bar.push(parseFloat(b.style.width)))
                .observe(b, {attributes: true, attributeFilter: ['style']}); }""")
            t0 = t()                                                      # Sleep, and its report
            page.locator('button.sl-sleep').click()
            page.wait_for_function("() => document.querySelector('.sl-report').innerText.includes('sleep: 2 facts')", timeout=240_000)
            times['sleep_s'] = t() - t0
            report = _text(page, '.sl-report')
            assert 'recall 1.000 -> 1.000' in report and 'perplexity' in report, report
            page.wait_for_function("() => document.querySelector('.sl-transcript').innerText.includes('slept: recall 1.00')", timeout=30_000)
            bar = page.locator('.sl-progress .progress-bar-success')                 # the progress display, full
            assert bar.count() == 1 and bar.first.evaluate('e => e.style.width') == '100%'
            widths = page.evaluate('window.__bar')                        # it moved within a step (the perplexity check)
            assert any(abs(w / (100 / 9) - round(w / (100 / 9))) > 0.05 for w in widths), widths

            # the memory view, redrawn after the sleep: the heatmap has the fact, the slider moves it to another layer
            page.wait_for_function("() => [...document.querySelectorAll('.sl-heatmap .ytick text')].some(e => e.textContent.includes('Suki'))", timeout=60_000)
            assert page.locator('.sl-heatmap .heatmaplayer .hm image').count() == 1
            title = page.locator('.sl-heatmap .gtitle').first.text_content()
            assert title.startswith('Key overlap at layer'), title
            handle = page.locator('.sl-layer .noUi-handle').first
            handle.focus(); handle.press('ArrowRight')
            page.wait_for_function(f"() => document.querySelector('.sl-heatmap .gtitle').textContent !== {json.dumps(title)}", timeout=30_000)
            assert page.locator('.sl-recall .scatterlayer .trace').count() >= 2       # the fact and the mean
            assert page.locator('.sl-ppl .scatterlayer .trace .point').count() >= 2    # before and after the sleep

            OUT.mkdir(parents=True, exist_ok=True)
            page.locator('.jp-OutputArea-output:has(.sl-chat)').first.screenshot(path=str(OUT/'chat-workbench.png'))
            assert not errors, errors
        except BaseException:
            page.screenshot(path=str(lab['work']/'failure.png'))
            (lab['work']/'failure.html').write_text(page.content())
            print(f"\nfailure screenshot and page: {lab['work']}/failure.png, failure.html; Lab log {lab['work']}/lab.log; times {times}")
            raise
        finally:
            browser.close()
    times = {k: round(v, 1) for k, v in times.items()}
    (OUT/'browser.json').write_text(json.dumps(dict(times, notebook='nbs/11_chat_widget.ipynb', facts=[FACT, FACT2],
                                                     screenshot='chat-workbench.png'), indent=1) + '\n')
    print(f"\nwidgets browser test: {times}")
