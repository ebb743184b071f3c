"""The API entries of the docs site (used by tools/docs.py): what `show_doc` writes for each exported function, class
and patched method, made for readers who want the parameters at a glance.

nbdev's renderer prints the signature with each parameter's docments comment and one line of docstring. Here every
entry also gets a parameter table (name, type, default, what it is — the docments comment, or for the settings
dataclasses the field's `doc` and allowed range), dataclass defaults made by a factory are shown as their value
instead of `<factory>`, and the "source" link points into the built site: each module of the package is written as a
highlighted page with line anchors (`source/memit.py.html#L-152`), so the link works offline and without a hosted
repository."""
from __future__ import annotations
import dataclasses, html, inspect, re
from contextlib import contextmanager
from pathlib import Path

LIB = 'sleeping_llm'


def _code(s) -> str: return f"<code>{html.escape(str(s)).replace('|', '&#124;')}</code>" if s else ''
def _text(s) -> str: return str(s).replace('|', '\\|').replace('\n', ' ')

def _type(anno) -> str:
    "A type annotation as text (a bare class by its name; `NoneType`, inferred from a None default, as nothing)."
    if anno is inspect.Parameter.empty: return ''
    if isinstance(anno, type): return '' if anno is type(None) else anno.__name__
    return str(anno).replace('typing.', '')


def _fields(obj) -> dict:
    return {f.name: f for f in dataclasses.fields(obj)} if isinstance(obj, type) and dataclasses.is_dataclass(obj) else {}


def _default(info: dict, f) -> str:
    "The default as the reader should see it: a dataclass factory's value, nothing for a required parameter."
    if f is not None and f.default_factory is not dataclasses.MISSING: return repr(f.default_factory())
    d = info['default']
    return '' if d is inspect.Parameter.empty else repr(d)


def _allowed(f) -> str:
    "A settings field's allowed values, from `opt`'s metadata (notebook 00)."
    m = f.metadata if f is not None else {}
    if m.get('choices'): return 'one of ' + ', '.join(f'`{c}`' for c in m['choices'])
    lo, hi = m.get('lo'), m.get('hi')
    if lo is None and hi is None: return ''
    if hi is None: return f"{'>' if m.get('lo_open') else '≥'} {lo}"
    return f'≤ {hi}' if lo is None else f'{lo} … {hi}'


def param_rows(obj) -> list[tuple[str, str, str, str]]:
    "(name, type, default, details) for each parameter (or dataclass field) of `obj`."
    from fastcore.docments import docments
    try: d = docments(obj, full=True)
    except (TypeError, ValueError, OSError): return []
    fields, rows = _fields(obj), []
    for name, info in d.items():
        if name in ('self', 'return', 'cls') or info.get('kind') in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL) and not info['docment']:
            continue
        f = fields.get(name)
        doc = info['docment'] or (f.metadata.get('doc', '') if f is not None else '') or ''
        allowed = _allowed(f)
        rows.append((name, _type(info['anno']), _default(info, f), doc + (f' ({allowed})' if allowed and doc else allowed)))
    return rows


def param_table(obj) -> str:
    "A Markdown table of `obj`'s parameters, or '' when it has none (or none is documented)."
    rows = param_rows(obj)
    if not rows or not any(r[1] or r[2] or r[3] for r in rows): return ''
    out = ['| Parameter | Type | Default | Details |', '|---|---|---|---|']
    out += [f'| **{_text(n)}** | {_code(t)} | {_code(d)} | {_text(x)} |' for n, t, d, x in rows]
    return '\n'.join(out)


def fix_factories(sig: str, obj) -> str:
    "`sig` with each `<factory>` default of a dataclass replaced by the factory's value."
    for name, f in _fields(obj).items():
        if f.default_factory is not dataclasses.MISSING:
            sig = re.sub(rf'(\b{re.escape(name)}:[^=,\n]*=)<factory>', lambda m: m.group(1) + repr(f.default_factory()), sig)
    return sig


def package_twin(obj):
    """The package's own object of the same name as `obj`: the docs run `show_doc` on the notebook's definitions,
    which live in the notebook, so their exported twin is found by name in nbdev's index (`_modidx`)."""
    import importlib
    mod = inspect.getmodule(inspect.unwrap(obj))
    if mod is not None and mod.__name__.startswith(LIB + '.'): return obj
    name = getattr(obj, '__qualname__', getattr(obj, '__name__', ''))
    try: syms = importlib.import_module(f'{LIB}._modidx').d['syms']
    except (ImportError, KeyError): return None
    for modname, entries in syms.items():
        if f'{modname}.{name}' in entries:
            o = importlib.import_module(modname)
            for part in name.split('.'): o = getattr(o, part, None)
            return o
    return None

def source_target(obj) -> str | None:
    "The site page and line anchor of `obj`'s source (`source/memit.py.html#L-152`), or None outside the package."
    try:
        fn = inspect.unwrap(package_twin(obj))
        mod = inspect.getmodule(fn)
        if mod is None or not mod.__name__.startswith(LIB + '.'): return None
        line = inspect.getsourcelines(fn)[1]
    except (TypeError, OSError, ValueError): return None
    return f"source/{mod.__name__.split('.', 1)[1].replace('.', '/')}.py.html#L-{line}"


def source_pages(lib: Path, dest: Path) -> list[Path]:
    "Each module of the package as a highlighted HTML page with line anchors (`#L-n`), under `dest/source/`."
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    fmt = HtmlFormatter(linenos='table', lineanchors='L', anchorlinenos=True, full=True, style='friendly')
    out = []
    for p in sorted(Path(lib).glob('*.py')):
        if p.name == '_modidx.py': continue
        f = Path(dest)/'source'/f'{p.name}.html'; f.parent.mkdir(parents=True, exist_ok=True)
        fmt.title = f'{LIB}/{p.name}'
        f.write_text(highlight(p.read_text(encoding='utf-8'), PythonLexer(), fmt), encoding='utf-8')
        out.append(f)
    return out


def site_renderer():
    "nbdev's `BasicMarkdownRenderer` with a parameter table, real defaults and a source link into the site."
    from nbdev.showdoc import BasicMarkdownRenderer
    from fastcore.docments import MarkdownRenderer

    class SiteRenderer(BasicMarkdownRenderer):
        def _repr_markdown_(self):
            doc = '---\n\n'
            target = source_target(self.sym)
            if target: doc += f'<a class="nb-source" href="{target}" style="float:right; font-size:smaller">source</a>\n\n'
            doc += f"{'#' * self.title_level} {self.nm}\n\n"
            body = fix_factories(MarkdownRenderer._repr_markdown_(self), self.sym)
            table = param_table(self.sym)
            return doc + body + (f'\n\n{table}' if table else '')
    return SiteRenderer


@contextmanager
def site_show_doc():
    "Within this block `show_doc` renders with `site_renderer()` (nbdev looks its default renderer up at each call)."
    import nbdev.showdoc as sd
    old = sd.BasicMarkdownRenderer
    sd.BasicMarkdownRenderer = site_renderer()
    try: yield
    finally: sd.BasicMarkdownRenderer = old
