"""The package's shape, as issue 17 fixed it: one door per concept, checked on the exported source.

- layering: a module imports only from modules exported by lower-numbered notebooks;
- the ledger (notebooks 06 and 06a) is the one door to weights and storage: no other module touches `ledger.weights`, `ledger.db` or SQL;
- `Memory` has one definition, models have one public loader, UI modules do not import each other;
- methods are attached with `@patch` (or defined in their class), never by plain assignment;
- no module over ~400 lines."""
import ast, re
from pathlib import Path
import pytest

PKG = Path(__file__).resolve().parent.parent/'sleeping_llm'
MODULES = {p.stem: p for p in sorted(PKG.glob('*.py')) if p.stem not in ('__init__', '_modidx')}
UI = ('chat_widget', 'memory_viz')


def _source(name): return MODULES[name].read_text()


def _notebook_rank(name) -> str:
    "The notebook a module is exported from, as its sortable number ('01a', '10', ...)."
    m = re.search(r'File to edit: \.\./nbs/(\w+?)_\w+\.ipynb', _source(name))
    assert m, f'{name}.py does not name its notebook'
    return m.group(1)


def _imports(name) -> set[str]:
    "The package modules `name` imports (at any depth: lazy imports count too)."
    out = set()
    for node in ast.walk(ast.parse(_source(name))):
        if isinstance(node, ast.ImportFrom) and node.module:
            mod = node.module
            if node.level: out.add(mod.split('.')[0])
            elif mod.startswith('sleeping_llm.'): out.add(mod.split('.')[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split('.')[1] for a in node.names if a.name.startswith('sleeping_llm.')}
    return out & set(MODULES)


@pytest.mark.parametrize('name', sorted(MODULES))
def test_imports_only_from_lower_notebooks(name):
    rank = _notebook_rank(name)
    higher = sorted(m for m in _imports(name) if _notebook_rank(m) >= rank and m != name)
    assert not higher, f'{name} ({rank}) imports {higher}, which come later'


@pytest.mark.parametrize('name', sorted(set(MODULES) - {'ledger', 'integrity'}))   # the ledger's two notebooks (06, 06a)
def test_only_the_ledger_touches_weights_and_sql(name):
    src = _source(name)
    for pat in (r'\.weights\.(active|rebuild|apply|remove|reset)\b', r'\bledger\.db\b', r'\.db\.execute\b', r'\bsqlite3\b',
                r"'tentative'"):
        assert not re.search(pat, src), f'{name}.py matches {pat}'


def test_one_memory_one_loader():
    defs = {n: [x.name for x in ast.walk(ast.parse(_source(n))) if isinstance(x, (ast.ClassDef, ast.FunctionDef))] for n in MODULES}
    assert [n for n, d in defs.items() if 'Memory' in d] == ['memory']
    assert [n for n, d in defs.items() if 'open_memory' in d] == ['memory']
    assert [n for n, d in defs.items() if 'load_model' in d] == ['backends']
    public_loaders = sorted(f'{n}.{d}' for n, ds in defs.items() for d in ds if re.fullmatch(r'load_(lm|torch|mlx|transformers)', d))
    assert not public_loaders, public_loaders


def test_ui_modules_do_not_import_each_other_or_the_cli():
    for name in UI:
        assert not _imports(name) & {*UI, 'cli'} - {name}, f'{name} imports {_imports(name) & {*UI, "cli"}}'


@pytest.mark.parametrize('name', sorted(MODULES))
def test_no_methods_attached_by_assignment(name):
    assign = re.findall(r'(?m)^[A-Z]\w*\.\w+(?:, [A-Z]\w*\.\w+)* = ', _source(name))
    assert not assign, f'{name}.py attaches methods by assignment: {assign}'


@pytest.mark.parametrize('name', sorted(MODULES))
def test_module_size(name):
    n = len(_source(name).splitlines())
    assert n <= 420, f'{name}.py has {n} lines (limit ~400)'
