"""Make the Jupyter servers of this environment save the project's notebooks clean: `python tools/jupyter_hooks.py`
(part of the README's install) adds a pre-save hook to `{sys.prefix}/etc/jupyter/jupyter_server_config.py` — this
virtual environment only, not ~/.jupyter. A notebook under nbs/ that you run and save in JupyterLab is then written
without outputs, execution counts or run metadata (exactly what `nbdev_clean` commits), so running a notebook leaves
`git status` clean; every other notebook is saved as it is. `--remove` takes the hook out again."""
import sys
from pathlib import Path

BEGIN, END = '# >>> sleeping_llm: save nbs/ notebooks clean >>>', '# <<< sleeping_llm <<<'
BLOCK = f'''{BEGIN}
try:
    from sleeping_llm.core import clean_saved_notebook
    c.ContentsManager.pre_save_hook = clean_saved_notebook
except ImportError: pass
{END}
'''

def config_file() -> Path: return Path(sys.prefix)/'etc'/'jupyter'/'jupyter_server_config.py'

def without_block(text: str) -> str:
    if BEGIN not in text: return text
    a, b = text.index(BEGIN), text.index(END) + len(END)
    return (text[:a] + text[b:].lstrip('\n')).rstrip() + ('\n' if text[:a].strip() else '')

def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    f = config_file(); old = f.read_text() if f.exists() else ''
    new = without_block(old)
    if '--remove' not in argv:
        if 'pre_save_hook' in new:
            print(f'{f} already sets another pre_save_hook; not changed', file=sys.stderr); return 1
        new = (new.rstrip() + '\n\n' if new.strip() else '') + BLOCK
    if new != old:
        f.parent.mkdir(parents=True, exist_ok=True); f.write_text(new)
    print(f"{'removed from' if '--remove' in argv else 'installed in'} {f}")
    return 0

if __name__ == '__main__': sys.exit(main())
