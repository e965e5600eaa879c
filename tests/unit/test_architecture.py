"""The package layout's rules (docs/architecture.md), read from the source's import statements.

- no import circles between modules (function-level imports count too);
- nothing the GPU receiver (``receiver_ai``) imports reaches GNU Radio;
- the radio host never imports ``receiver_ai``: the one exception is the one-box demo's
  generator loader (``gensem.cli.demo``), which imports it inside a function;
- only ``gensem.dsp.gr_fec`` imports gr-fec; GNU Radio blocks live in ``gensem.blocks``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = {"gensem": os.path.join(ROOT, "gr-gensem", "python", "gensem"), "receiver_ai": os.path.join(ROOT, "receiver_ai")}
GNU_RADIO = ("gnuradio", "pmt", "osmosdr")
DEMO_BRIDGE = "gensem.cli.demo"  # the one-box demo: runs a receiver backend in the same process


def _modules():
    mods = {}
    for pkg, d in PACKAGES.items():
        for dirpath, _, files in os.walk(d):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(dirpath, f)
                    name = os.path.relpath(path, os.path.dirname(d))[:-3].replace(os.sep, ".")
                    mods[name.removesuffix(".__init__")] = path
    return mods


MODULES = _modules()


def _imports(name):
    """[(imported module or external top-level name, at module level?)] of one module."""
    path = MODULES[name]
    is_pkg = path.endswith("__init__.py")
    tree = ast.parse(open(path).read())
    top = {id(n) for n in tree.body}
    top |= {id(c) for n in tree.body if isinstance(n, (ast.If, ast.Try)) for c in ast.walk(n)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if is_pkg else name.split(".")[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t not in MODULES and "." in t and t.split(".")[0] in PACKAGES:
                t = t.rsplit(".", 1)[0]
            out.append((t, id(node) in top))
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def _closure(start):
    seen, todo, external = set(), [start], set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for t, _ in GRAPH[m]:
            if t in MODULES:
                todo.append(t)
            else:
                external.add(t.split(".")[0])
    return seen, external


def test_no_import_circles():
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w, _ in GRAPH[v]:
            if w not in MODULES or w == v:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for m in sorted(MODULES):
        if m not in index:
            visit(m)
    assert not cycles, f"import circles: {cycles}"


def test_receiver_never_reaches_gnu_radio():
    for m in MODULES:
        if m.startswith("receiver_ai"):
            seen, external = _closure(m)
            bad = external & set(GNU_RADIO)
            assert not bad, f"{m} reaches {bad} through {sorted(s for s in seen if s.startswith('gensem'))}"


def test_radio_host_never_imports_the_receiver():
    direct = {m for m in MODULES if m.startswith("gensem") for t, _ in GRAPH[m] if t.startswith("receiver_ai")}
    assert direct <= {DEMO_BRIDGE}, f"gensem modules importing receiver_ai: {sorted(direct - {DEMO_BRIDGE})}"
    assert not [t for t, top in GRAPH[DEMO_BRIDGE] if t.startswith("receiver_ai") and top]
    for m in MODULES:  # the radio side proper: blocks, dsp, core, planner, apps, semantic, jscc
        if m.startswith(("gensem.blocks", "gensem.dsp", "gensem.core", "gensem.planner", "gensem.apps",
                         "gensem.semantic", "gensem.jscc")):
            seen, _ = _closure(m)
            assert not [s for s in seen if s.startswith("receiver_ai")], m


def test_gr_fec_behind_one_adapter_and_blocks_in_blocks():
    fec_users = {m for m in MODULES for t, _ in GRAPH[m] if t in ("gnuradio.fec",)}
    assert fec_users == {"gensem.dsp.gr_fec"}
    for m in MODULES:
        if m.startswith(("gensem.core", "gensem.planner", "gensem.semantic")):
            assert not _closure(m)[1] & set(GNU_RADIO), f"{m} reaches GNU Radio"
        if m.startswith("gensem.dsp") and m != "gensem.dsp.gr_fec":
            ext = {t for t, _ in GRAPH[m] if t.split(".")[0] in GNU_RADIO}
            assert not ext, f"{m} imports {ext} (only dsp.gr_fec may, for gr-fec)"


def test_receiver_imports_in_an_interpreter_without_gnu_radio():
    """Every receiver_ai module and the core it uses import with gnuradio/pmt unimportable."""
    mods = sorted(m for m in MODULES if m.startswith(("receiver_ai", "gensem.core")))
    code = (
        "import sys, importlib, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        f"        if name.split('.')[0] in {GNU_RADIO!r}:\n"
        "            raise ImportError('no GNU Radio on a GPU host: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "print('ok', len(sys.modules))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "gr-gensem", "python"), ROOT]))
    r = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stderr[-2000:]
