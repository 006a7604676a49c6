"""The source layout's one rule that a compiler does not keep: no two
files call each other, directly or around a loop (docs/development.md,
"Layout"). Each subsystem is layered, so a file can be read, tested and
replaced knowing only what it uses.

Read from the build's own objects, not from the text: `nm` on the core
library lists what each object defines and what it takes from others, so
a static helper that shares a name with another file's (a namesake) is no
call, and a call through a macro still is one.
"""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def core_library():
    lib = Path(os.environ["ISTHMUS_BIN"]).resolve().parent / "libisthmus-core.a"
    if not lib.exists():
        pytest.fail(f"{lib} not found: the layout is read from the build")
    return lib


def object_to_source():
    """meson names an object after its source's path, '/' as '_'."""
    out = {}
    for src in (ROOT / "src").rglob("*.c"):
        rel = src.relative_to(ROOT).as_posix()
        out[rel.replace("/", "_") + ".o"] = rel
    return out


def call_graph():
    """{file: {file it calls: [symbols]}} over the core library."""
    names = object_to_source()
    res = subprocess.run(["nm", "-A", str(core_library())],
                         capture_output=True, text=True, check=True)
    defined, used = {}, {}
    for line in res.stdout.splitlines():
        # LIB:[DIR/]src_edge_edge.c.o:0000000000000000 T edge_main
        # LIB:[DIR/]src_edge_edge.c.o:                 U log_emit
        # (meson makes a thin archive: members are named by their path)
        head, _, rest = line.rpartition(":")
        obj = os.path.basename(head.rsplit(":", 1)[-1])
        parts = rest.split()
        if obj not in names or len(parts) < 2:
            continue
        kind, sym = parts[-2], parts[-1]
        src = names[obj]
        if kind == "U":
            used.setdefault(src, set()).add(sym)
        elif kind in "TDBR":
            defined[sym] = src
    graph = {}
    for src, syms in used.items():
        for sym in syms:
            to = defined.get(sym)
            if to is not None and to != src:
                graph.setdefault(src, {}).setdefault(to, []).append(sym)
    return graph


def loops(graph):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_call_graph_is_read():
    """The reading itself works: known calls are seen, so an empty loop
    list below means something."""
    g = call_graph()
    assert "src/common/log.c" in g.get("src/edge/edge.c", {}), g.get(
        "src/edge/edge.c")
    assert "src/cloud/policy.c" in g.get("src/cloud/tunnel.c", {})
    # and a loop is found where there is one
    assert loops({"a": {"b": []}, "b": {"c": []}, "c": {"a": []},
                  "d": {"a": []}}) == [["a", "b", "c"]]


def test_no_two_files_call_each_other():
    g = call_graph()
    found = loops(g)
    lines = []
    for comp in found:
        lines.append("loop: " + ", ".join(comp))
        for a in comp:
            for b in comp:
                if b in g.get(a, {}):
                    lines.append(f"  {a} -> {b}: "
                                 + ", ".join(sorted(g[a][b])[:6]))
    assert not found, "\n".join(lines)
