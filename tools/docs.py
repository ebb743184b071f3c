#!/usr/bin/env python
"""Build the docs site: the notebooks as a static website, built offline (a page per notebook, navigation,
search, math and figures). A dev tool, not part of the `sleeping_llm` package:

    pip install -e '.[docs]' && python tools/docs.py            # writes _docs/; then open _docs/index.html
    python tools/docs.py --execute /tmp/site                    # run every notebook first (slow: loads the model)

nbdev's `nbdev_docs` hands the processed notebooks to Quarto, which cannot be installed on our machines. This tool
keeps nbdev's half of that work, the *processing* of every notebook (`show_doc` for each exported symbol, `#| hide`
and `#| export` cells removed, the title cell turned into front matter, backticked names linked), and replaces
Quarto by MkDocs with the Material theme, whose search runs in the browser. Math is typeset by KaTeX, fetched once
from the npm registry and served from the site itself, and Plotly figures use the `plotly.min.js` that the `plotly`
package ships: the built site makes no request outside itself. What is written here is only the glue: notebook
cells to Markdown, the results page, the MkDocs configuration. Where Quarto exists, `nbdev_docs` still works from
`nbs/_quarto.yml` and renders the same notebooks.

Its tests are `tests/test_docs_build.py` (the helpers, fast) and `tests/test_docs_site.py` (the built site in
headless Chromium, slow). It imports nothing from `sleeping_llm` but `sleeping_llm.core` (the cache folder).
"""
from __future__ import annotations
import argparse, ast, base64, hashlib, html, json, os, posixpath, re, shutil, subprocess, sys, tarfile, tempfile, textwrap, time
from pathlib import Path
from fastcore.xtras import modified_env, working_directory
from sleeping_llm.core import default_cache
sys.path.insert(0, str(Path(__file__).resolve().parent))
from docs_api import site_show_doc, source_pages          # the API entries: parameter tables, source pages (tools/docs_api.py)

REPO_ROOT = Path(__file__).resolve().parent.parent     # tools/docs.py lives in the repository's tools/ folder

# ## The notebooks, in reading order
#
# The landing page is `nbs/index.ipynb` (nbdev's convention), then the other pages without a number (guides such as
# `architecture.ipynb`), then the numbered notebooks, then those in `nbs/experiments/`, each group sorted by file
# name. Names starting with `_` or `.` are left out, as nbdev leaves them out. A page is named as nbdev names its
# HTML file: the number prefix goes, so `00_core.ipynb` becomes `core.md` and then `core.html`. `find_notebooks`
# discovers new notebooks by itself, so the site grows with the project; `page_path` keeps nbdev's names, so the
# links that nbdev writes (`core.html#opt`) land on our pages.

def find_notebooks(nbs: Path) -> list[Path]:
    "The notebooks of the site in reading order: `index.ipynb`, pages without a number, the numbered notebooks, `experiments/`."
    nbs = Path(nbs)
    ok = lambda p: not p.name.startswith(('_', '.'))
    top = sorted((p for p in nbs.glob('*.ipynb') if ok(p) and p.name != 'index.ipynb'), key=lambda p: (p.name[:1].isdigit(), p.name))
    exp = sorted(p for p in (nbs/'experiments').glob('*.ipynb') if ok(p))
    return ([nbs/'index.ipynb'] if (nbs/'index.ipynb').exists() else []) + top + exp

def page_path(nb: Path, nbs: Path) -> str:
    "The Markdown page for notebook `nb`, relative to the site (`00_core.ipynb` -> `core.md`), as nbdev names it."
    from nbdev.doclinks import _nbpath2html
    return _nbpath2html(Path(nb).relative_to(nbs)).with_suffix('.md').as_posix()


# ## Processing with nbdev
#
# `process_nb` reads a notebook and runs nbdev's own processors over it (`FilterDefaults`, as `nbdev_docs` does
# before Quarto): front matter from the title cell, `show_doc` cells added after each export and executed, hidden
# and exported cells dropped, backticked names linked. One processor is swapped: nbdev's `exec_show_docs` also runs
# any cell that mixes an import with other code (it warns about them: see nbdev's FAQ); in our notebooks such cells
# are tests that load the model, so `exec_show_docs_only` skips them and the docs build in seconds. `doc_procs` is
# nbdev's list for this project (it honours `skip_procs` and `procs` in `settings.ini`) with that one element
# replaced.
#
# With `execute=True` every cell runs first, in the notebook's folder as nbdev's test runner runs it, so that
# printed results, images and figures appear on the page; Plotly figures are then captured as their JSON
# (`plotly_mimetype`), never sent to a browser window. `execute_nb` is nbdev's test runner (`CaptureShell.run_all`)
# keeping the outputs; a failing cell stops the build with its error.

def _mixes_imports(cell) -> bool:
    "A code cell, not exported, that imports *and* computes: nbdev warns about these and runs them for `show_doc`."
    from nbdev.processors import _ast_contains, _show_docs
    if cell.cell_type != 'code' or not cell.source: return False
    if getattr(cell, 'directives_', {}).keys() & {'export', 'exports', 'exporti', 'exec_doc'}: return False
    try: trees = cell.parsed_()
    except SyntaxError: return False
    return bool(trees) and bool(_ast_contains(trees, (ast.Import, ast.ImportFrom))) \
        and bool(_ast_contains(trees, (ast.Expr, ast.Assign))) and not _show_docs(trees)

def doc_procs() -> list:
    "nbdev's notebook processors for docs, with `exec_show_docs` replaced by `exec_show_docs_only`."
    from nbdev.processors import FilterDefaults, exec_show_docs
    class exec_show_docs_only(exec_show_docs):
        "nbdev's `exec_show_docs`, minus the cells that mix imports with computation."
        def __call__(self, cell):
            if not _mixes_imports(cell): super().__call__(cell)
    return [exec_show_docs_only if p is exec_show_docs else p for p in FilterDefaults().procs()]


_re_no_eval = re.compile(r'^\s*#\|\s*eval:\s*false\s*$', re.M | re.I)

def execute_nb(nb, path: Path):
    "Run every cell of `nb` (except `#| eval: false`) in the folder of `path`, keeping the outputs in `nb`."
    from execnb.shell import CaptureShell
    path = Path(path).resolve()
    if 'plotly' in sys.modules: sys.modules['plotly.io'].renderers.default = 'plotly_mimetype'
    skip = lambda c: c.cell_type != 'code' or 'nbdev_export' + '(' in c.source or bool(_re_no_eval.search(c.source))
    with modified_env(PLOTLY_RENDERER='plotly_mimetype'), working_directory(path.parent):
        CaptureShell(path).run_all(nb, exc_stop=True, preproc=skip)
    return nb

# Executing every notebook for every build would take as long as the test suite. So an executed copy is kept per
# notebook under `data/docs/executed/` (outputs and figures, committed), keyed by a hash of the notebook's cells:
# `python tools/docs.py --execute` (all) or `--execute NAME ...` (some) runs notebooks and writes their copies, and a
# normal build uses a notebook's copy while the notebook is unchanged since — a changed notebook shows no outputs until
# its copy is refreshed (the docs-site test checks that the figure pages have theirs).

EXECUTED = REPO_ROOT/'data'/'docs'/'executed'

def cells_key(nb) -> str:
    "A hash of a notebook's cells (type and source): what decides whether an executed copy still belongs to it."
    cells = [(c['cell_type'], c['source'] if isinstance(c['source'], str) else ''.join(c['source'])) for c in nb['cells']]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()[:16]

def executed_copy(path: Path, nbs: Path, store: Path | None = None) -> Path:
    "Where the executed copy of notebook `path` is kept (`experiments/capacity.ipynb` -> `experiments__capacity.ipynb`)."
    return Path(store or EXECUTED)/(Path(path).relative_to(nbs).as_posix().replace('/', '__'))

def process_nb(path: Path, execute: bool = False, copy: Path | None = None):
    """Read notebook `path` and process it as nbdev does for its docs. `execute`: run it first, and if `copy` is given
    write the executed notebook there; else, if `copy` holds an executed copy of these very cells, use its outputs."""
    from execnb.nbio import read_nb, write_nb
    from nbdev.process import NBProcessor
    nb = read_nb(path); key = cells_key(nb)
    if execute:
        execute_nb(nb, path)
        if copy is not None:
            nb.metadata['sleeping_llm_docs'] = {'cells_key': key}
            Path(copy).parent.mkdir(parents=True, exist_ok=True); write_nb(nb, copy)
    elif copy is not None and Path(copy).exists():
        done = read_nb(copy)
        if done.metadata.get('sleeping_llm_docs', {}).get('cells_key') == key: nb = done
    with modified_env(IN_TEST='1'), site_show_doc(): NBProcessor(nb=nb, procs=doc_procs()).process()
    return nb


# ## Cells to Markdown
#
# A processed notebook becomes one Markdown page. Code cells keep their Quarto options as leading `#|` lines
# (`echo: false` for `show_doc`, `code-fold` for `#| exports`), which `cell_options` splits off (`#| echo: false`
# reads as `{'echo': 'false'}`, a bare directive such as `#| hide` as `{'hide': ''}`). Outputs are written as Jupyter
# ranks them: a Plotly figure, HTML, Markdown (what `show_doc` writes), SVG, PNG/JPEG (saved as files next to the
# page), LaTeX, then plain text. Math stays `$...$` / `$$...$$` in the Markdown; pymdown's `arithmatex` marks it and
# KaTeX typesets it in the browser. A Plotly figure is kept as its JSON in a `data-figure` attribute; the site's
# `docs.js` draws it with the local `plotly.min.js`. Images go to files rather than `data:` URLs, so pages stay
# small. Hidden cells arrive with no source (nbdev's `hide_` processor removes it) and produce nothing.

_re_opt = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')

def cell_options(src: str) -> tuple[dict, str]:
    "Split a code cell's leading `#|` lines (Quarto options, nbdev directives) from its code."
    opts, lines = {}, (src or '').splitlines()
    while lines and (m := _re_opt.match(lines[0])):
        opts[m.group(1).lower()] = m.group(2).strip('"\'').lower() if m.group(1) != 'code-summary' else m.group(2).strip('"\'')
        lines.pop(0)
    return opts, '\n'.join(lines).strip('\n')

def fence(s: str, lang: str = '') -> str:
    "`s` as a fenced code block, with a fence longer than any backtick run inside it."
    n = max([3] + [len(r) + 1 for r in re.findall(r'`{3,}', s)])
    return f"{'`'*n}{lang}\n{s.rstrip()}\n{'`'*n}"


PLOTLY_MIME = 'application/vnd.plotly.v1+json'
_re_ansi = re.compile(r'\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])')
_re_cdn_plotly = re.compile(r"""<script[^>]*\bsrc=["']https?://cdn\.plot\.ly/[^"']*["'][^>]*>\s*</script>""")

def _text(x) -> str: return ''.join(x) if isinstance(x, list) else str(x)

def has_plotly(nb) -> bool:
    "Does a cell of `nb` output a Plotly figure (its JSON, or HTML that loads plotly.js from the CDN)?"
    outs = [o.get('data', {}) for c in nb.cells for o in c.get('outputs', [])]
    return any(PLOTLY_MIME in d or _re_cdn_plotly.search(_text(d.get('text/html', ''))) for d in outs)

def output_md(o: dict, save) -> str:
    "Markdown for one cell output. `save(suffix, bytes)` stores a file next to the page and returns its URL."
    kind = o.get('output_type')
    if kind == 'stream': return fence(_re_ansi.sub('', _text(o.get('text', ''))), 'text')
    if kind == 'error': return fence(_re_ansi.sub('', '\n'.join(o.get('traceback', []))), 'text')
    d = o.get('data', {})
    if PLOTLY_MIME in d:
        fig = d[PLOTLY_MIME]
        fig = json.loads(fig) if isinstance(fig, str) else fig
        return f'<div class="nb-plotly" data-figure="{html.escape(json.dumps(fig), quote=True)}"></div>'
    if 'text/html' in d:   # a Plotly page that asks the CDN for plotly.js is pointed at ours (docs.js loads it)
        h = _re_cdn_plotly.sub('<script class="nb-plotly-js"></script>', _text(d['text/html']))
        return f'<div class="nb-html" markdown="0">\n{h.strip()}\n</div>'
    if 'text/markdown' in d: return _text(d['text/markdown'])
    if 'image/svg+xml' in d: return f'<div class="nb-svg" markdown="0">{_text(d["image/svg+xml"])}</div>'
    for mime, suffix in (('image/png', '.png'), ('image/jpeg', '.jpg')):
        if mime in d: return f'![output]({save(suffix, base64.b64decode(_text(d[mime])))})'
    if 'text/latex' in d: return _text(d['text/latex'])
    if 'text/plain' in d: return fence(_text(d['text/plain']), 'text')
    return ''


def cell_md(cell, save) -> str:
    "Markdown for one processed cell: Markdown as written, code fenced (unless `echo: false`) with its outputs."
    if cell.cell_type == 'markdown': return re.sub(r'^:::.*$', '', cell.source or '', flags=re.M)  # Quarto's fenced divs
    if cell.cell_type != 'code': return cell.source or ''
    opts, src = cell_options(cell.source)
    if opts.get('include') == 'false': return ''
    parts = []
    if src and opts.get('echo') != 'false':
        block = fence(src, 'python')
        if opts.get('code-fold') in ('show', 'true'):   # nbdev folds `#| exports` source: a collapsible block
            mark = '???+' if opts['code-fold'] == 'show' else '???'
            block = f'{mark} abstract "{opts.get("code-summary", "Code")}"\n\n' + textwrap.indent(block, '    ')
        parts.append(block)
    if opts.get('output') != 'false': parts += [output_md(o, save) for o in cell.get('outputs', [])]
    return '\n\n'.join(p for p in parts if p)


# Links that nbdev writes to our own documentation (`https://sleeping-llm.github.io/sleeping_llm/core.html#opt`)
# become relative links between pages, so they work in the built site, offline; links to other libraries' docs stay
# as they are. The title and the description of the notebook head the page.

def doc_base() -> str:
    "The URL under which nbdev links symbols (`doc_host` + `doc_baseurl` in settings.ini)."
    from nbdev.config import get_config
    cfg = get_config()
    return cfg.doc_host.rstrip('/') + '/' + cfg.doc_baseurl.strip('/') + '/'

def relink(md: str, page: str, pages: set[str], base: str) -> str:
    "Point nbdev's absolute links to this site's pages (`{base}core.html#opt`) at the Markdown page, relative to `page`."
    def sub(m):
        target = m.group(1) + '.md'
        if target not in pages: return m.group(0)
        return posixpath.relpath(target, posixpath.dirname(page) or '.') + (m.group(2) or '')
    return re.sub(re.escape(base) + r'([\w./-]+?)\.html(#[\w.-]*)?', sub, md)

def nb_markdown(nb, page: str, pages: set[str], save, base: str = '') -> tuple[str, str]:
    "The title and Markdown page of processed notebook `nb`, to live at `page` in a site of `pages`."
    fm = getattr(nb, 'frontmatter_', {}) or {}
    title = str(fm.get('title') or Path(page).stem)
    head = f"---\ntitle: {json.dumps(title)}\n---\n\n# {title}\n\n" + (f"> {fm['description']}\n\n" if fm.get('description') else '')
    cells = nb.cells[1:] if fm and nb.cells and nb.cells[0].cell_type == 'raw' else nb.cells   # [0]: nbdev's front matter
    body = '\n\n'.join(s for s in (cell_md(c, save).strip('\n') for c in cells) if s.strip())
    return title, relink(head + body + '\n', page, pages, base) if base else head + body + '\n'


# ## Results
#
# Experiments write JSON and PNG files under `data/results/`, benchmarks under `data/bench/`. The results page is
# built from them so that it reads from the top: a table of every results folder (what it holds, how many seeds,
# when it was measured), then the figures of each folder, then the written summary (`data/results/README.md`, if
# there is one), and last the raw JSON, each file folded (click to open; long files cut, with a link to the whole
# file, which is copied into the site). The page exists even before there are results, so the navigation does not
# change shape when the first ones arrive.

RESULT_DIRS = ('data/results', 'data/bench')
RESULT_KINDS = ('.json', '.png', '.svg', '.jpg')
IMAGE_KINDS = ('.png', '.svg', '.jpg')

def _run_facts(files: list[Path]) -> tuple[str, str]:
    "(seeds, measured) of a results folder, read from its JSON files' `params.seeds` and `machine.time` ('—' if none)."
    seeds, when = '—', '—'
    for p in files:
        if p.suffix.lower() != '.json': continue
        try: d = json.loads(p.read_text(encoding='utf-8'))
        except ValueError: continue
        if not isinstance(d, dict): continue
        s = (d.get('params') or {}).get('seeds') if isinstance(d.get('params'), dict) else None
        if isinstance(s, list) and seeds == '—': seeds = str(len(s)) + (' (partial)' if d.get('partial') else '')
        t = (d.get('machine') or {}).get('time') if isinstance(d.get('machine'), dict) else None
        if isinstance(t, str) and (when == '—' or t > when): when = t
    return seeds, when

def result_files(folder: Path) -> list[Path]:
    "The files under `folder` that git would keep (ignored working files, such as experiment homes, left out)."
    every = [p.resolve() for p in Path(folder).rglob('*') if p.is_file()]
    try: r = subprocess.run(['git', 'check-ignore', '--stdin'], cwd=folder, input='\n'.join(map(str, every)),
                            capture_output=True, text=True)
    except OSError: return every                                    # no git: every file
    if r.returncode not in (0, 1): return every                     # not a repository
    ignored = set(r.stdout.splitlines())
    return [p for p in every if str(p) not in ignored]

def results_md(root: Path, site: Path, max_chars: int = 20_000) -> str:
    "The results page for the files under `RESULT_DIRS` of `root`; the files are copied to `site/results/`."
    root, site = Path(root).resolve(), Path(site)
    out = ['---', 'title: Results', '---', '', '# Results', '']      # the table first: with a figure, the first screen
    about = 'What the experiments (`data/results/`) and benchmarks (`data/bench/`) wrote, as of this build.'
    groups: dict[str, list[Path]] = {}
    for d in RESULT_DIRS:
        if (root/d).is_dir():
            for p in sorted(p for p in result_files(root/d) if p.suffix.lower() in RESULT_KINDS):
                groups.setdefault(p.parent.relative_to(root).as_posix(), []).append(p)
                dst = site/'results'/p.relative_to(root); dst.parent.mkdir(parents=True, exist_ok=True); shutil.copy2(p, dst)
    url = lambda p: 'results/' + p.relative_to(root).as_posix()
    summary = root/RESULT_DIRS[0]/'README.md'                       # a written summary of the results, if there is one
    if not groups:
        if summary.is_file(): out += [summary.read_text(encoding='utf-8').strip(), '']
        return '\n'.join(out + [about, '', 'No results yet: experiments write them to `data/results/`, benchmarks to `data/bench/`.', ''])
    out += ['| results | figures | data files | seeds | measured |', '|---|---|---|---|---|']
    for g, files in groups.items():
        imgs = sum(p.suffix.lower() in IMAGE_KINDS for p in files)
        out.append(f"| [`{g}/`](#{slugify(g)}) | {imgs} | {len(files) - imgs} | {' | '.join(_run_facts(files))} |")
    out += ['', '## Figures', '']
    for g, files in groups.items():
        imgs = [p for p in files if p.suffix.lower() in IMAGE_KINDS]
        if imgs: out += [f'### {g}', ''] + [f'![{p.name}]({url(p)})\n' for p in imgs]
    if summary.is_file(): out += [summary.read_text(encoding='utf-8').strip(), '']
    out += ['## Raw data', '', about + ' Each file folded: click to open it; the link is the whole file.', '']
    for g, files in groups.items():
        for p in (p for p in files if p.suffix.lower() == '.json'):
            rel = p.relative_to(root).as_posix()
            text = p.read_text(encoding='utf-8', errors='replace')
            try: text = json.dumps(json.loads(text), indent=1, ensure_ascii=False)
            except ValueError: pass
            cut = len(text) > max_chars
            body = [f'[`{rel}`]({url(p)})', '', fence(text[:max_chars] + ('\n...' if cut else ''), 'json')]
            if cut: body += ['', f'*Cut at {max_chars:,} of {len(text):,} characters: the link above has the whole file.*']
            out += [f'??? note "{rel}"', '', textwrap.indent('\n'.join(body), '    '), '']
    return '\n'.join(out)


# ## Assets served by the site
#
# KaTeX comes from the npm registry with npm's own client (`npm pack`), is checked against the pinned sha512 (the
# registry's `integrity` of that version, checked the way npm itself checks a package) and cached under the model
# cache folder (`SLEEPING_LLM_CACHE`); a folder holding KaTeX's `dist/` can be named by `SLEEPING_LLM_KATEX`
# instead. Only npm needs the network, once. `plotly.min.js` is the copy inside the `plotly` package, copied only
# when a page has a figure. `docs.js` is the only script we write: it calls KaTeX's auto-render on the elements that
# `arithmatex` marked (so a `$` in code or output is never touched) and loads `plotly.min.js` only on pages with a
# figure.

KATEX_VERSION = '0.19.1'
KATEX_SHA512 = 'jG8uKntjSEcm2EpQOh0XturpPuuC9r3Sq5HLHdsFdWZT27E672SF19QEi+of0/YeOy15lDgRhKvr5614uRrEfA=='

def _sha512(b: bytes) -> str: return base64.b64encode(hashlib.sha512(b).digest()).decode()

def katex_dist(cache: Path | None = None) -> Path:
    "KaTeX's `dist/` folder: `SLEEPING_LLM_KATEX`, or the pinned npm package, fetched once, verified and cached."
    if os.environ.get('SLEEPING_LLM_KATEX'): return Path(os.environ['SLEEPING_LLM_KATEX'])
    cache = Path(cache or default_cache()/'npm'); dest = cache/f'katex-{KATEX_VERSION}'
    if (dest/'katex.min.js').exists(): return dest
    npm = shutil.which('npm')
    if not npm: raise RuntimeError('the docs need KaTeX from the npm registry: install npm (apt-get install npm), '
                                   'or set SLEEPING_LLM_KATEX to a folder holding KaTeX dist/')
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as d:
        r = subprocess.run([npm, 'pack', f'katex@{KATEX_VERSION}', '--pack-destination', d],
                           capture_output=True, text=True, cwd=d)
        tgz = next(Path(d).glob('katex-*.tgz'), None)
        if r.returncode or tgz is None: raise RuntimeError(f'npm pack katex@{KATEX_VERSION} failed:\n{r.stderr[-2000:]}')
        if _sha512(tgz.read_bytes()) != KATEX_SHA512: raise RuntimeError(f'{tgz.name}: sha512 differs from the pinned one')
        tmp = Path(d)/'dist'
        with tarfile.open(tgz) as t:
            for m in t.getmembers():
                if not (m.isfile() and m.name.startswith('package/dist/')) or '..' in m.name: continue
                f = tmp/m.name[len('package/dist/'):]
                f.parent.mkdir(parents=True, exist_ok=True); f.write_bytes(t.extractfile(m).read())
        if not dest.exists(): tmp.rename(dest)   # atomic: a half-extracted folder is never seen as the cache
    return dest

def plotly_js() -> Path:
    "The `plotly.min.js` that the `plotly` package ships."
    try: import plotly
    except ImportError: raise RuntimeError("a notebook shows a Plotly figure: pip install -e '.[docs]' (it brings plotly)") from None
    return Path(plotly.__file__).parent/'package_data'/'plotly.min.js'


DOCS_JS = r"""// Typeset the math that pymdown's arithmatex marked (KaTeX), draw notebook Plotly figures (local plotly.min.js).
(function () {
  var base = document.currentScript.src.replace(/[^\/]*$/, '');
  function math() {
    if (!window.renderMathInElement) return;
    var opts = {delimiters: [{left: '\\[', right: '\\]', display: true},
                             {left: '\\(', right: '\\)', display: false}], throwOnError: false};
    document.querySelectorAll('.arithmatex').forEach(function (el) { renderMathInElement(el, opts); });
    document.querySelectorAll('.md-nav__link').forEach(function (el) {   // headings with math, in the table of contents
      if (el.textContent.indexOf('\\(') >= 0) renderMathInElement(el, opts);
    });
  }
  function plots() {
    var figs = document.querySelectorAll('.nb-plotly'), tags = document.querySelectorAll('script.nb-plotly-js');
    if (!figs.length && !tags.length) return;
    var s = document.createElement('script');
    s.src = base + 'plotly.min.js';
    s.onload = function () {
      figs.forEach(function (el) {
        var f = JSON.parse(el.getAttribute('data-figure'));
        Plotly.newPlot(el, f.data || [], f.layout || {}, {responsive: true, displaylogo: false});
      });
      tags.forEach(function (t) {   // HTML outputs that expected plotly.js from a CDN: run their scripts now
        var p = t.parentNode;
        p.querySelectorAll('script:not(.nb-plotly-js)').forEach(function (old) {
          var n = document.createElement('script'); n.text = old.text; old.replaceWith(n);
        });
      });
    };
    document.head.appendChild(s);
  }
  function run() { math(); plots(); }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run); else run();
})();
"""

DOCS_CSS = """.nb-plotly { width: 100%; min-height: 450px; }
.md-typeset .katex-display { overflow-x: auto; overflow-y: hidden; }
.md-typeset .nb-html { overflow-x: auto; }
"""


# ## The MkDocs configuration
#
# The configuration is generated, since the navigation follows the notebooks. Material's Google-fonts link is
# switched off (`font: false`) and no `repo_url` is set (Material would ask GitHub's API for stars), so every
# request stays on the site. Headings get nbdev's anchors (`config.cache`, not `configcache`) from `slugify`, which
# MkDocs imports by name: `mkdocs build` runs with this folder on its `PYTHONPATH` (`mkdocs_env`), so the name is
# this file's module name. Notebooks under `experiments/` form one section of the navigation; the results page
# comes last.

SLUGIFY_NAME = f'{Path(__file__).stem}.slugify'   # what MkDocs imports, with this folder on its path

def mkdocs_env() -> dict:
    "The environment of `mkdocs build`: this one, with this file's folder first on `PYTHONPATH` (for `slugify`)."
    path = os.pathsep.join(p for p in (str(Path(__file__).resolve().parent), os.environ.get('PYTHONPATH')) if p)
    return {**os.environ, 'PYTHONPATH': path, 'NO_MKDOCS_2_WARNING': '1'}

def slugify(value: str, separator: str = '-') -> str:
    "Heading anchors as nbdev writes them in links: lower case, keeping `.` and `_` (`Config.cache` -> `config.cache`)."
    import unicodedata
    value = unicodedata.normalize('NFKD', value).encode('ascii', 'ignore').decode('ascii')
    value = re.sub(r'[^\w\s.-]', '', value).strip().lower()
    return re.sub(r'[\s]+', separator, value)

def mkdocs_config(nav: list, docs_dir: Path, site_dir: Path, name: str, description: str = '') -> str:
    "The `mkdocs.yml` text for a site of `nav` (`[(title, page)]`, pages under `experiments/` grouped)."
    import yaml
    top = [{t: p} for t, p in nav if not p.startswith('experiments/')]
    exp = [{t: p} for t, p in nav if p.startswith('experiments/')]
    conf = dict(
        site_name=name, site_description=description, docs_dir=str(docs_dir), site_dir=str(site_dir),
        use_directory_urls=False,     # core.md -> core.html: the entry page is _docs/index.html, nbdev's links fit
        theme=dict(name='material', font=False, language='en',
                   features=['navigation.footer', 'navigation.top', 'search.highlight', 'search.suggest',
                             'content.code.copy', 'toc.follow'],
                   palette=dict(primary='indigo', accent='indigo')),
        plugins=['search'],
        markdown_extensions=['admonition', 'attr_list', 'def_list', 'footnotes', 'md_in_html', 'tables',
                             {'toc': dict(permalink=True, slugify='SLUGIFY')},
                             {'pymdownx.arithmatex': dict(generic=True)}, 'pymdownx.details',
                             {'pymdownx.highlight': dict(use_pygments=True)}, 'pymdownx.superfences'],
        extra_css=['assets/katex/katex.min.css', 'assets/docs.css'],
        extra_javascript=['assets/katex/katex.min.js', 'assets/katex/contrib/auto-render.min.js', 'assets/docs.js'],
        extra=dict(generator=False),
        nav=top + ([{'Experiment notebooks': exp}] if exp else []))   # (notebook 13's page is 'Experiments')
    return yaml.safe_dump(conf, sort_keys=False, allow_unicode=True).replace('SLUGIFY', f'!!python/name:{SLUGIFY_NAME}')


# ## Building the site
#
# `build_site` puts it together: every notebook processed (and executed, if asked), written as Markdown with its
# images into a temporary `docs_dir`, the results page and the assets added, then `mkdocs build` (run as a separate
# process, so nothing from the notebooks' execution leaks into it) writes the site to `out`. Building the whole site
# needs the `docs` extra (MkDocs, Material, pymdown, plotly) and npm for KaTeX the first time.

def build_site(out: str | Path = '_docs',
               execute: bool | list = False,        # True: run every notebook; a list of names (stems): those only
               nbs: str | Path | None = None, root: str | Path | None = None, quiet: bool = True,
               store: Path | None | bool = None,    # where executed copies live (default EXECUTED; False: none)
              ) -> Path:
    "Build the docs site from the notebooks into `out`; return the path of its entry page, `out/index.html`."
    from nbdev.config import get_config
    root = Path(root or REPO_ROOT).resolve()
    out = Path(out) if Path(out).is_absolute() else root/out
    with working_directory(root):
        cfg = get_config()
        nbs = Path(nbs).resolve() if nbs else cfg.nbs_path
        if store is None: store = EXECUTED if nbs == Path(cfg.nbs_path).resolve() else False   # copies only of the project's notebooks
        notebooks = find_notebooks(nbs)
        if not notebooks: raise FileNotFoundError(f'no notebooks in {nbs}')
        pages = {page_path(p, nbs): p for p in notebooks}
        base = doc_base()
        with tempfile.TemporaryDirectory() as tmp:
            docs = Path(tmp)/'docs'; docs.mkdir()
            nav, plots = [], False
            for page, path in pages.items():
                files = []
                def save(suffix, data, page=page, files=files):
                    rel = f'{Path(page).stem}_files/out{len(files) + 1}{suffix}'
                    f = docs/posixpath.dirname(page)/rel
                    f.parent.mkdir(parents=True, exist_ok=True); f.write_bytes(data); files.append(f)
                    return rel
                run = execute is True or (execute and path.stem in execute)
                copy = executed_copy(path, nbs, store) if store is not False else None
                try: nb = process_nb(path, execute=run, copy=copy)
                except Exception as e: raise RuntimeError(f'{path.name}: {type(e).__name__}: {e}') from e
                plots = plots or has_plotly(nb)
                title, md = nb_markdown(nb, page, set(pages), save, base)
                (docs/page).parent.mkdir(parents=True, exist_ok=True)
                (docs/page).write_text(md, encoding='utf-8')
                nav.append(('Home' if page == 'index.md' else title, page))
            source_pages(root/cfg.lib_path.name, docs)                 # what the API entries' "source" links open
            (docs/'results.md').write_text(results_md(root, docs), encoding='utf-8')
            nav.append(('Results', 'results.md'))
            assets = docs/'assets'; assets.mkdir()
            (assets/'docs.js').write_text(DOCS_JS); (assets/'docs.css').write_text(DOCS_CSS)
            shutil.copytree(katex_dist(), assets/'katex', ignore=shutil.ignore_patterns('*.mjs', '*.map', 'katex.js', 'katex.css', '*.md'))
            if plots: shutil.copy2(plotly_js(), assets/'plotly.min.js')
            yml = Path(tmp)/'mkdocs.yml'
            yml.write_text(mkdocs_config(nav, docs, out, cfg.title, cfg.get('description', '')), encoding='utf-8')
            r = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--clean', '-f', str(yml)] + (['-q'] if quiet else []),
                               capture_output=True, text=True, env=mkdocs_env())
            if r.returncode: raise RuntimeError(f'mkdocs build failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}')
            if not quiet: print(r.stdout + r.stderr, end='')
    return out/'index.html'


def main(argv: list[str] | None = None) -> int:
    "`python tools/docs.py [--execute] [--verbose] [out | --out DIR]`: build the docs site."
    ap = argparse.ArgumentParser(prog='python tools/docs.py', description='Build the docs site from the notebooks, offline.')
    ap.add_argument('out', nargs='?', help='output folder, relative to the repository (default: _docs)')
    ap.add_argument('--out', dest='out_opt', metavar='DIR', help='the same, as an option')
    ap.add_argument('--execute', nargs='*', metavar='NAME', default=None,
                    help='run the notebooks first (all, or the NAMEs given, e.g. 02_covariance) and keep their executed copies in data/docs/executed/')
    ap.add_argument('--verbose', action='store_true', help="show MkDocs' log")
    a = ap.parse_args(argv)
    if a.out and a.out_opt and a.out != a.out_opt: ap.error(f'two output folders: {a.out} and --out {a.out_opt}')
    t0 = time.perf_counter()
    execute = False if a.execute is None else (a.execute or True)
    index = build_site(a.out or a.out_opt or '_docs', execute=execute, quiet=not a.verbose)
    print(f'docs: {index} ({time.perf_counter() - t0:.1f} s)')
    return 0


if __name__ == '__main__': sys.exit(main())
