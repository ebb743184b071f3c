"""The docs site builder, `tools/docs.py`: its helpers (notebook discovery and page names, nbdev processing, cells
and outputs to Markdown, links, the results page, assets, the MkDocs configuration, the command line).

Fast, except one slow test that builds a one-page site (needs the `docs` extra and npm or `SLEEPING_LLM_KATEX`).
The built project site in a browser is `tests/test_docs_site.py`."""
import ast, base64, html, importlib.util, json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
import yaml
from fastcore.basics import AttrDict
from fastcore.xtras import modified_env, working_directory

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT/'tools'/'docs.py'
NBS = ROOT/'nbs'


from conftest import load_docs_tool
docs = load_docs_tool()


@pytest.fixture
def saver():
    "A `save(suffix, bytes)` as `output_md` wants it, keeping what it was given."
    saved = {}
    def save(suffix, b):
        saved[suffix] = b
        return f'core_files/out{len(saved)}{suffix}'
    save.saved = saved
    return save


@pytest.fixture(scope='module')
def cli_nb():
    "The command-line notebook, processed as for the docs (its `show_doc` cells import the package: a few seconds)."
    nb = next(iter(sorted(NBS.glob('*_cli.ipynb'))), None)
    if nb is None: pytest.skip('no command-line notebook')
    with working_directory(ROOT): return docs.process_nb(nb)


# --- the notebooks, in reading order ---

def test_find_notebooks_in_this_repository():
    found = docs.find_notebooks(NBS)
    names = [p.relative_to(NBS).as_posix() for p in found]
    assert names[0] == 'index.ipynb'
    assert names[1] == 'architecture.ipynb', names[:3]          # the architecture page right after the landing page
    assert '00_core.ipynb' in names and names.index('00_core.ipynb') < next(i for i, n in enumerate(names) if n.endswith('_cli.ipynb'))
    numbered = [n for n in names if n[:1].isdigit()]
    assert numbered == sorted(numbered) and len(numbered) >= 10, numbered
    exp = [n for n in names if n.startswith('experiments/')]
    assert exp == sorted(exp) and names[len(names) - len(exp):] == exp, names     # experiments last
    assert not any(n.endswith('_docs.ipynb') or Path(n).name.startswith('_') for n in names), names   # the builder is no notebook
    assert [docs.page_path(p, NBS) for p in found[:3]] == ['index.md', 'architecture.md', 'core.md']


def test_find_notebooks_order_and_page_paths(tmp_path):
    d = tmp_path; (d/'experiments').mkdir()
    for n in ['02_b.ipynb', '01_a.ipynb', '_skip.ipynb', '.hidden.ipynb', 'guide.ipynb', 'about.ipynb',
              'experiments/e2_run.ipynb', 'experiments/e1_run.ipynb', 'experiments/_x.ipynb']:
        (d/n).write_text('{}')
    assert [p.relative_to(d).as_posix() for p in docs.find_notebooks(d)] == \
        ['about.ipynb', 'guide.ipynb', '01_a.ipynb', '02_b.ipynb', 'experiments/e1_run.ipynb', 'experiments/e2_run.ipynb']
    (d/'index.ipynb').write_text('{}')
    found = docs.find_notebooks(d)
    assert [p.name for p in found[:3]] == ['index.ipynb', 'about.ipynb', 'guide.ipynb']
    assert docs.page_path(d/'experiments/e1_run.ipynb', d) == 'experiments/e1_run.md'
    assert docs.page_path(d/'01_a.ipynb', d) == 'a.md' and docs.page_path(d/'guide.ipynb', d) == 'guide.md'
    assert docs.find_notebooks(tmp_path/'missing') == []


# --- processing with nbdev ---

def test_doc_procs_swaps_exec_show_docs():
    from nbdev.processors import exec_show_docs, add_links
    with working_directory(ROOT): ps = docs.doc_procs()
    assert exec_show_docs not in ps and add_links in ps
    assert any(getattr(p, '__name__', '') == 'exec_show_docs_only' for p in ps)


def test_mixes_imports():
    from execnb.nbio import mk_cell
    assert docs._mixes_imports(mk_cell('import os\nx = os.sep'))
    assert not docs._mixes_imports(mk_cell('import os'))
    assert not docs._mixes_imports(mk_cell('x = 1'))
    assert not docs._mixes_imports(mk_cell('import os\nx = os.sep', cell_type='markdown'))
    assert not docs._mixes_imports(mk_cell('def f(:'))


def test_process_nb(cli_nb):
    assert cli_nb.frontmatter_['title'] == 'Command line'
    out = [o['data']['text/markdown'] for c in cli_nb.cells for o in c.get('outputs', []) if 'text/markdown' in o.get('data', {})]
    assert any('### probe' in ''.join(d) for d in out), out
    assert not any('#| export' in (c.source or '') for c in cli_nb.cells)


def test_execute_nb_keeps_outputs_and_skips_eval_false():
    from execnb.nbio import dict2nb
    tiny = dict2nb({'cells': [{'cell_type': 'code', 'source': 'print(6*7)', 'metadata': {}, 'outputs': []},
                              {'cell_type': 'code', 'source': '#| eval: false\n1/0', 'metadata': {}, 'outputs': []},
                              {'cell_type': 'code', 'source': 'import os; print(os.path.basename(os.getcwd()))', 'metadata': {}, 'outputs': []}],
                    'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5})
    docs.execute_nb(tiny, NBS/'index.ipynb')
    assert tiny.cells[0].outputs[0]['text'] == ['42\n']
    assert tiny.cells[1].outputs == []
    assert tiny.cells[2].outputs[0]['text'] == ['nbs\n']        # run in the notebook's folder


# --- cells to Markdown ---

def test_cell_options_and_fence():
    assert docs.cell_options('#| echo: false\n#| output: asis\nshow_doc(f)') == ({'echo': 'false', 'output': 'asis'}, 'show_doc(f)')
    assert docs.cell_options('#| code-summary: "Exported source"\nx = 1  #| not an option') == \
        ({'code-summary': 'Exported source'}, 'x = 1  #| not an option')
    assert docs.cell_options('#| hide\nx = 1') == ({'hide': ''}, 'x = 1')
    assert docs.cell_options(None) == ({}, '')
    assert docs.fence('a ``` b', 'text') == '````text\na ``` b\n````'
    assert docs.fence('x = 1\n', 'python') == '```python\nx = 1\n```'


def test_output_md(saver):
    assert docs.output_md({'output_type': 'stream', 'name': 'stdout', 'text': ['\x1b[31mred\x1b[0m\n']}, saver) == '```text\nred\n```'
    png = {'output_type': 'execute_result', 'data': {'image/png': base64.b64encode(b'PNG').decode(), 'text/plain': 'fig'}}
    assert docs.output_md(png, saver) == '![output](core_files/out1.png)'
    assert saver.saved['.png'] == b'PNG'
    fig = {'data': [{'type': 'bar', 'y': [1, 3, 2]}], 'layout': {'title': {'text': 'a <b>"title"</b>'}}}
    div = docs.output_md({'output_type': 'display_data', 'data': {docs.PLOTLY_MIME: fig, 'text/html': '<div>x</div>'}}, saver)
    assert div.startswith('<div class="nb-plotly" data-figure="{') and '"' not in div.split('data-figure="')[1][:-8]
    assert json.loads(html.unescape(div.split('data-figure="')[1][:-8])) == fig
    assert docs.output_md({'output_type': 'display_data', 'data': {docs.PLOTLY_MIME: json.dumps(fig)}}, saver) == div   # JSON as a string
    cdn = {'output_type': 'display_data', 'data': {'text/html': '<script src="https://cdn.plot.ly/plotly-3.0.1.min.js"></script><div id="p"></div>'}}
    h = docs.output_md(cdn, saver)
    assert 'cdn.plot.ly' not in h and 'nb-plotly-js' in h and h.startswith('<div class="nb-html" markdown="0">')
    assert docs.has_plotly(AttrDict(cells=[AttrDict(outputs=[cdn])])) and not docs.has_plotly(AttrDict(cells=[AttrDict(source='x')]))
    assert docs.output_md({'output_type': 'execute_result', 'data': {'text/plain': "{'a': 1}"}}, saver) == "```text\n{'a': 1}\n```"
    assert docs.output_md({'output_type': 'error', 'traceback': ['\x1b[0;31mZeroDivisionError\x1b[0m', 'x']}, saver) == \
        '```text\nZeroDivisionError\nx\n```'
    assert docs.output_md({'output_type': 'display_data', 'data': {'text/markdown': '### f', 'text/plain': 'f'}}, saver) == '### f'


def test_cell_md(saver):
    mk = lambda t, s, outs=(): AttrDict(cell_type=t, source=s, outputs=list(outs))
    show = mk('code', '#| echo: false\n#| output: asis\nshow_doc(f)', [{'output_type': 'execute_result', 'data': {'text/markdown': '### f'}}])
    assert docs.cell_md(show, saver) == '### f'
    assert docs.cell_md(mk('code', '#| code-fold: show\n#| code-summary: "Exported source"\nx = 1'), saver) == \
        '???+ abstract "Exported source"\n\n    ```python\n    x = 1\n    ```'
    assert docs.cell_md(mk('code', '#| code-fold: true\nx = 1'), saver) == '??? abstract "Code"\n\n    ```python\n    x = 1\n    ```'
    assert docs.cell_md(mk('code', None), saver) == ''
    assert docs.cell_md(mk('code', '#| include: false\nx = 1', [{'output_type': 'stream', 'text': 'hi'}]), saver) == ''
    assert docs.cell_md(mk('code', '#| output: false\nx = 1', [{'output_type': 'stream', 'text': 'hi'}]), saver) == '```python\nx = 1\n```'
    assert docs.cell_md(mk('markdown', '::: {.callout-note}\nNote\n:::'), saver) == '\nNote\n'


def test_relink_and_nb_markdown(cli_nb, saver):
    with working_directory(ROOT): base = docs.doc_base()
    assert base == 'https://sleeping-llm.github.io/sleeping_llm/'
    pages = {'index.md', 'core.md', 'experiments/e1.md'}
    assert docs.relink(f'[`opt`]({base}core.html#opt) and [x]({base}nope.html)', 'experiments/e1.md', pages, base) == \
        f'[`opt`](../core.md#opt) and [x]({base}nope.html)'
    assert docs.relink(f'[c]({base}core.html)', 'index.md', pages, base) == '[c](core.md)'
    title, page = docs.nb_markdown(cli_nb, 'cli.md', {'cli.md', 'core.md'}, saver, base)
    assert title == 'Command line'
    assert page.startswith('---\ntitle: "Command line"\n---\n\n# Command line\n\n> `sleeping-llm`'), page[:120]
    assert '### probe' in page and '#|' not in page and 'load_config()' in page
    assert f'{base}cli.html' not in page


def test_nb_markdown_without_front_matter(saver):
    nb = AttrDict(cells=[AttrDict(cell_type='markdown', source='Hello $x$', outputs=[])])
    assert docs.nb_markdown(nb, 'experiments/run.md', {'experiments/run.md'}, saver) == \
        ('run', '---\ntitle: "run"\n---\n\n# run\n\nHello $x$\n')


# --- results ---

def test_results_md(tmp_path):
    d = tmp_path; site = d/'site'
    assert 'No results yet' in docs.results_md(d, site)
    (d/'data/results/exp1').mkdir(parents=True); (d/'data/bench').mkdir(parents=True)
    (d/'data/results/exp1/recall.json').write_text(json.dumps({'recall': [1.0, 0.95], 'note': 'x' * 50,
                                                               'params': {'seeds': [0, 1, 2]}, 'machine': {'time': '2026-12-07 03:00:00'}}))
    (d/'data/results/exp1/recall.png').write_bytes(b'\x89PNG')
    (d/'data/bench/speed.png').write_bytes(b'\x89PNG')
    (d/'data/bench/log.txt').write_text('not listed')
    page = docs.results_md(d, site, max_chars=30)
    assert page.startswith('---\ntitle: Results\n---\n')
    body = page.split('# Results', 1)[1]
    first = [l for l in body.splitlines() if l.strip() and not l.startswith('>')][0]
    assert first.startswith('| results | figures |')                                   # the page opens with a table ...
    assert '| [`data/results/exp1/`](#dataresultsexp1) | 1 | 1 | 3 | 2026-12-07 03:00:00 |' in page
    assert page.index('![recall.png](results/data/results/exp1/recall.png)') < page.index('## Raw data')   # ... figures next
    assert '![speed.png](results/data/bench/speed.png)' in page and 'log.txt' not in page
    raw = page[page.index('## Raw data'):]
    assert '??? note "data/results/exp1/recall.json"' in raw                              # JSON folded, last
    assert '    [`data/results/exp1/recall.json`](results/data/results/exp1/recall.json)' in raw and '*Cut at 30' in raw
    assert (site/'results/data/bench/speed.png').read_bytes() == b'\x89PNG'
    assert json.loads((site/'results/data/results/exp1/recall.json').read_text())['recall'] == [1.0, 0.95]
    (d/'data/results/README.md').write_text('## Summary\n\nRecall held.\n')
    page = docs.results_md(d, site)
    assert page.index('## Figures') < page.index('## Summary') < page.index('## Raw data') and 'Recall held.' in page
    assert '*Cut at' not in page and 'No results yet' not in page


# --- assets ---

def test_katex_pin_and_override(tmp_path):
    assert docs._sha512(b'') == 'z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=='
    with modified_env(SLEEPING_LLM_KATEX=str(tmp_path)): assert docs.katex_dist() == tmp_path
    cache = tmp_path/'cache'; dest = cache/f'katex-{docs.KATEX_VERSION}'; dest.mkdir(parents=True)
    (dest/'katex.min.js').write_text('// cached')
    with modified_env('SLEEPING_LLM_KATEX'): assert docs.katex_dist(cache) == dest    # a cached copy: no npm


def test_docs_js_stays_local():
    assert 'renderMathInElement' in docs.DOCS_JS and "'plotly.min.js'" in docs.DOCS_JS and 'http' not in docs.DOCS_JS
    assert '.nb-plotly' in docs.DOCS_CSS


# --- the MkDocs configuration ---

def test_slugify():
    assert docs.slugify('Config.cache') == 'config.cache'
    assert docs.slugify('LM.__init__') == 'lm.__init__'
    assert docs.slugify('Perplexity & drift') == 'perplexity-drift'
    assert docs.slugify('Café  au lait') == 'cafe-au-lait'


def test_mkdocs_config():
    y = docs.mkdocs_config([('Home', 'index.md'), ('Architecture', 'architecture.md'), ('Core', 'core.md'),
                            ('Run 1', 'experiments/e1.md'), ('Results', 'results.md')], Path('/tmp/d'), Path('/tmp/s'), 'sleeping_llm')
    assert f'!!python/name:{docs.SLUGIFY_NAME}' in y and docs.SLUGIFY_NAME == 'docs.slugify'
    conf = yaml.safe_load(y.replace('!!python/name:', ''))
    assert conf['nav'] == [{'Home': 'index.md'}, {'Architecture': 'architecture.md'}, {'Core': 'core.md'},
                           {'Results': 'results.md'}, {'Experiment notebooks': [{'Run 1': 'experiments/e1.md'}]}]
    assert conf['theme']['font'] is False and conf['use_directory_urls'] is False
    assert (conf['docs_dir'], conf['site_dir'], conf['site_name']) == ('/tmp/d', '/tmp/s', 'sleeping_llm')
    assert 'repo_url' not in conf and not any('//' in u for u in conf['extra_css'] + conf['extra_javascript'])
    assert 'Experiment notebooks' not in str(yaml.safe_load(docs.mkdocs_config([('Home', 'index.md')], Path('/d'), Path('/s'), 'x')
                                                   .replace('!!python/name:', ''))['nav'])
    titles = [t for e in conf['nav'] for t in e]                   # the sidebar: no two entries share a name
    assert len(titles) == len(set(titles))


def test_mkdocs_finds_slugify():
    "The name in the configuration resolves, in a separate Python with `mkdocs_env`, to this `slugify`."
    mod, fn = docs.SLUGIFY_NAME.rsplit('.', 1)
    code = f'import importlib; print(importlib.import_module({mod!r}).{fn}("Config.cache"))'
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=docs.mkdocs_env(), cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == 'config.cache'
    assert docs.mkdocs_env()['PYTHONPATH'].split(os.pathsep)[0] == str(TOOL.parent)


# --- a tool, outside the package ---

def test_tool_is_outside_the_package():
    tree = ast.parse(TOOL.read_text())
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | \
           {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in mods if m and m.split('.')[0] == 'sleeping_llm'} <= {'sleeping_llm.core'}, mods
    assert docs.REPO_ROOT == ROOT
    assert not (ROOT/'sleeping_llm'/'docs.py').exists()
    from sleeping_llm import _modidx
    assert not [k for k in _modidx.d['syms'] if k.startswith('sleeping_llm.docs')]


def test_main_usage_errors(capsys):
    for argv in (['--bogus'], ['a', '--out', 'b']):
        with pytest.raises(SystemExit) as e: docs.main(argv)
        assert e.value.code == 2                 # argparse: usage error
    r = subprocess.run([sys.executable, str(TOOL), '--help'], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and 'usage: python tools/docs.py' in r.stdout and '--execute' in r.stdout, r.stderr[-2000:]


# --- a whole (tiny) site ---

@pytest.mark.slow
def test_build_tiny_site(tmp_path):
    "A site of one small notebook, executed: heading anchor, math marked for KaTeX, the printed output, search, KaTeX."
    if not importlib.util.find_spec('material') or not (shutil.which('npm') or os.environ.get('SLEEPING_LLM_KATEX')):
        pytest.skip("needs pip install -e '.[docs]' and npm (or SLEEPING_LLM_KATEX)")
    d = tmp_path; (d/'nbs').mkdir()
    nb = {'cells': [{'cell_type': 'markdown', 'metadata': {}, 'source': '# Tiny\n\n> One page.'},
                    {'cell_type': 'markdown', 'metadata': {}, 'source': 'Euler: $e^{i\\pi} + 1 = 0$'},
                    {'cell_type': 'code', 'metadata': {}, 'outputs': [], 'execution_count': None, 'source': 'print(2 + 2)'}],
          'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    (d/'nbs/index.ipynb').write_text(json.dumps(nb))
    index = docs.build_site(d/'site', execute=True, nbs=d/'nbs')
    assert index == d/'site'/'index.html'
    page = index.read_text()
    assert 'id="tiny"' in page and 'class="arithmatex"' in page and '>4\n' in page, page[-3000:]
    assert (d/'site/search/search_index.json').exists() and (d/'site/assets/katex/katex.min.js').exists()
    assert (d/'site/results.html').exists() and not (d/'site/assets/plotly.min.js').exists()   # no figure, no plotly.js


# --- API entries (tools/docs_api.py) ---

def test_api_entries_parameter_tables_defaults_and_source(tmp_path):
    docs                                                                 # tools/ on the path (tools/docs.py puts it there)
    import inspect
    import docs_api
    from sleeping_llm.core import MemitConfig
    from sleeping_llm.memit import memit
    t = docs_api.param_table(memit)
    assert t.startswith('| Parameter | Type | Default | Details |')
    assert '| **hp** | <code>MemitConfig &#124; None</code> | <code>None</code> | the edit\'s settings' in t
    assert '| **layers** |  | <code>None</code> |' in t                     # a None default infers no type
    c = docs_api.param_table(MemitConfig)
    assert '<code>[3, 4, 5, 6, 7, 8]</code>' in c and '<factory>' not in c
    assert 'one of `full`, `diagonal`' in c and 'λ, weight of the covariance C (> 0.0)' in c
    sig = 'def MemitConfig(\n    target_layers:list[int]=<factory>, lambda_reg:float=100.0\n)'
    assert docs_api.fix_factories(sig, MemitConfig) == sig.replace('<factory>', '[3, 4, 5, 6, 7, 8]')
    line = inspect.getsourcelines(memit)[1]
    assert docs_api.source_target(memit) == f'source/memit.py.html#L-{line}'
    twin = type(memit)(memit.__code__, {}, 'memit'); twin.__qualname__ = 'memit'   # as the notebook defines it
    assert docs_api.source_target(twin) == f'source/memit.py.html#L-{line}'
    assert docs_api.source_target(len) is None
    lib = tmp_path/'lib'; lib.mkdir(); (lib/'m.py').write_text('x = 1\ndef f(): pass\n'); (lib/'_modidx.py').write_text('d = {}\n')
    pages = docs_api.source_pages(lib, tmp_path/'site')
    assert [p.name for p in pages] == ['m.py.html'] and 'id="L-2"' in pages[0].read_text()


def test_executed_copies_are_used_while_the_notebook_is_unchanged(tmp_path):
    nbs, store = tmp_path/'nbs', tmp_path/'executed'; nbs.mkdir()
    cell = lambda t, src: {'cell_type': t, 'metadata': {}, 'source': src, **({'outputs': [], 'execution_count': None} if t == 'code' else {})}
    nb = {'cells': [cell('markdown', '# Page'), cell('code', 'print(6 * 7)')], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    (nbs/'index.ipynb').write_text(json.dumps(nb))
    copy = docs.executed_copy(nbs/'index.ipynb', nbs, store)
    docs.process_nb(nbs/'index.ipynb', execute=True, copy=copy)                  # run: the copy is written
    assert copy.exists() and '42' in copy.read_text()
    out = lambda n: ''.join(str(o) for c in n.cells for o in c.get('outputs', []))
    assert '42' in out(docs.process_nb(nbs/'index.ipynb', copy=copy))          # unchanged: its outputs are used
    nb['cells'][1]['source'] = 'print(6 * 9)'; (nbs/'index.ipynb').write_text(json.dumps(nb))
    assert '42' not in out(docs.process_nb(nbs/'index.ipynb', copy=copy))      # changed: the stale copy is not
    assert docs.executed_copy(nbs/'experiments'/'capacity.ipynb', nbs, store).name == 'experiments__capacity.ipynb'
