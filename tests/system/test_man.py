"""The man pages (man/*.scd) say what the code does.

- Every key of the configuration loaders' tables (the `struct conf_key`
  arrays in src/) is documented under its section in the right .conf(5)
  page, with the table's default, or as required or unset; and the pages
  document no key the tables do not have.
- Every command `isthmus --help` lists has its part in isthmus(1), every
  `pki` command in isthmus-pki(1), and each part names the long options
  that command's --help shows.
- scdoc turns every page into roff without a complaint, groff and man
  render it without a warning, and the build made and installs each page
  into the section its name says.

The tables are read from the C source, strictly: a table, an entry or a
section the parser cannot take apart fails the test instead of being
skipped, so a key added to a table must reach its page.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import isthmus_testlib as lib

ROOT = Path(__file__).resolve().parents[2]
MAN = ROOT / "man"
SRC = ROOT / "src"

# The configuration loaders and the page each one's sections belong to.
LOADERS = {
    "src/cloud/config.c": "isthmus-cloud.conf.5",
    "src/edge/config.c": "isthmus-edge.conf.5",
}
# The sections each loader declares. A loader gaining a section fails
# here until the page documents it and this list names it: a parser that
# quietly saw fewer sections could not pass.
SECTIONS = {
    "src/cloud/config.c": ["cloud", "tenant", "edge", "service",
                           "readiness"],
    "src/edge/config.c": ["edge", "listener", "collector"],
}


def scdoc_bin():
    path = shutil.which("scdoc")
    if path is None:
        pytest.fail("scdoc is not installed: the man pages are built with it "
                    "(apt-get install scdoc; scripts/deps.sh lists it for "
                    "make check)")
    return path


# --- reading the C tables ------------------------------------------------

def strip_comments(text):
    """The text without /* */ and // comments; string literals kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.index("*/", i + 2)
            out.append(" ")
            i = j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_top(s):
    """s split at the commas outside brackets and strings, each stripped;
    the empty item a trailing comma leaves is dropped."""
    items, depth, cur, i = [], 0, [], 0
    while i < len(s):
        c = s[i]
        if c == '"':
            j = i + 1
            while s[j] != '"':
                j += 2 if s[j] == "\\" else 1
            cur.append(s[i:j + 1])
            i = j + 1
            continue
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        if c == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    last = "".join(cur).strip()
    if last:
        items.append(last)
    return items


def matching_brace(text, start):
    """The index of the brace closing the one at text[start]."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise AssertionError("unbalanced braces")


def conf_key_fields():
    """The members of struct conf_key in order, from common/config.h."""
    text = strip_comments((SRC / "common" / "config.h").read_text())
    m = re.search(r"struct conf_key \{(.*?)\};", text, re.S)
    assert m, "struct conf_key not found in src/common/config.h"
    fields = []
    for decl in m.group(1).split(";"):
        parts = [p for p in decl.split(",") if p.strip()]
        for p in parts:
            fields.append(re.findall(r"\w+", p)[-1])
    for f in ("name", "type", "def", "flags"):
        assert f in fields, f"struct conf_key has no member {f}: {fields}"
    return fields


def conf_types():
    """The members of enum conf_type, from common/config.h."""
    text = strip_comments((SRC / "common" / "config.h").read_text())
    m = re.search(r"enum conf_type \{(.*?)\};", text, re.S)
    assert m, "enum conf_type not found in src/common/config.h"
    types = re.findall(r"\b(CONF_[A-Z]+)\b", m.group(1))
    assert types, "no member in enum conf_type"
    return types


def defines(text):
    """{NAME: replacement} of the file's #defines, object- and
    function-like ("NAME(a, b)" as key), continuation lines joined."""
    text = text.replace("\\\n", " ")
    out = {}
    for m in re.finditer(r"^#define\s+(\w+(?:\([^)]*\))?)\s*(.*)$", text,
                         re.M):
        out[m.group(1).replace(" ", "")] = m.group(2).strip()
    return out


def string_value(expr, defs, where):
    """A default: NULL, string literals (concatenated), or a macro that is
    one of those."""
    expr = expr.strip()
    if expr == "NULL":
        return None
    if re.fullmatch(r'(\s*"(?:[^"\\]|\\.)*"\s*)+', expr):
        return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', expr))
    if re.fullmatch(r"\w+", expr) and expr in defs:
        return string_value(defs[expr], defs, where)
    pytest.fail(f"{where}: cannot read the default {expr!r}: teach "
                "test_man.py this form")


def expand_macro(item, defs, where):
    """KEY("name", ...) through its #define into the initialiser's
    fields."""
    m = re.fullmatch(r"(\w+)\s*\((.*)\)", item, re.S)
    if not m:
        pytest.fail(f"{where}: an entry that is neither {{...}} nor a "
                    f"macro call: {item[:60]!r}")
    name, args = m.group(1), split_top(m.group(2))
    for sig, body in defs.items():
        dm = re.fullmatch(rf"{name}\(([^)]*)\)", sig)
        if dm is None:
            continue
        params = [p.strip() for p in dm.group(1).split(",")]
        if len(params) != len(args) or not body.startswith("{"):
            pytest.fail(f"{where}: cannot expand {name}(...)")
        for p, a in zip(params, args):
            body = re.sub(rf"\b{p}\b", lambda _m, a=a: a, body)
        return split_top(body[1:body.rindex("}")])
    pytest.fail(f"{where}: no #define for {name}(...)")


def key_tables():
    """{(file, table): [(key, default or None, required)]} for every
    `struct conf_key NAME[]` in src/; file is None for one that is not
    static (the cloud's [readiness] takes common/readiness.c's)."""
    fields = conf_key_fields()
    types = conf_types()
    tables = {}
    for path in sorted(SRC.rglob("*.c")):
        text = strip_comments(path.read_text())
        defs = defines(text)
        heads = list(re.finditer(
            r"(static\s+)?const\s+struct\s+conf_key\s+(\w+)\s*\[\s*\]"
            r"\s*=\s*\{", text))
        # Every mention of such an array's definition must be one the
        # regex took (a `const struct conf_key x[] =` in another shape
        # would otherwise be passed over).
        mentions = re.findall(r"struct\s+conf_key\s+\w+\s*\[\s*\]\s*=",
                              text)
        assert len(mentions) == len(heads), \
            f"{path}: a conf_key table this test cannot read"
        for h in heads:
            table = h.group(2)
            where = f"{path.relative_to(ROOT)}: {table}"
            start = h.end() - 1
            body = text[start + 1:matching_brace(text, start)]
            entries = []
            for item in split_top(body):
                if item.startswith("{"):
                    vals = split_top(item[1:item.rindex("}")])
                else:
                    vals = expand_macro(item, defs, where)
                if len(vals) != len(fields):
                    pytest.fail(f"{where}: {len(vals)} fields in "
                                f"{item[:60]!r}, struct conf_key has "
                                f"{len(fields)}")
                f = dict(zip(fields, vals))
                if not re.fullmatch(r'"[a-z0-9_]+"', f["name"]) or \
                        f["type"] not in types:
                    pytest.fail(f"{where}: cannot read the entry "
                                f"{item[:60]!r}")
                entries.append((f["name"].strip('"'),
                                string_value(f["def"], defs, where),
                                "CONF_REQUIRED" in f["flags"]))
            # The entries counted another way: a name then a type.
            counted = len(re.findall(
                rf'"[a-z0-9_]+"\s*,\s*(?:{"|".join(types)})\b', body))
            assert counted == len(entries) > 0, \
                f"{where}: read {len(entries)} entries, counted {counted}"
            ref = (str(path.relative_to(ROOT)) if h.group(1) else None,
                   table)
            assert ref not in tables, f"two tables {ref}"
            tables[ref] = entries
    return tables


def loader_sections(loader, tables=None):
    """[(section, named, table)] of one loader, in its order; table as
    key_tables() names it (the loader's own static one, else the global
    one of that name)."""
    text = strip_comments((ROOT / loader).read_text())
    found = [(m.group(1), re.search(r"\.named\s*=\s*true", m.group(2))
              is not None, (loader, m.group(3)))
             for m in re.finditer(
                 r'\.name\s*=\s*"(\w+)"([^{};]*?)\.keys\s*=\s*(\w+)', text)]
    keys = len(re.findall(r"\.keys\s*=", text))
    assert len(found) == keys, \
        f"{loader}: {keys} sections, of which {len(found)} read"
    if tables is not None:
        found = [(s, n, t if t in tables else (None, t[1]))
                 for s, n, t in found]
    return found


@pytest.fixture(scope="module")
def tables():
    return key_tables()


# --- reading the pages -----------------------------------------------------

def page_source(page):
    path = MAN / f"{page}.scd"
    assert path.exists(), f"{path} missing"
    return path.read_text()


def documented_keys(page):
    """{section: (named, {key: the first line of its text})} of a .conf(5)
    page: "## [SECTION NAME]" headings, "*KEY* = ..." entries."""
    lines = page_source(page).splitlines()
    out, cur = {}, None
    for i, line in enumerate(lines):
        if line.startswith("#"):
            m = re.fullmatch(r"## \[(\w+)( [^\]]+)?\]", line)
            cur = None
            if m:
                assert m.group(1) not in out, \
                    f"{page}: [{m.group(1)}] documented twice"
                cur = m.group(1)
                out[cur] = (m.group(2) is not None, {})
            continue
        m = re.match(r"\*([a-z0-9_]+)\* = ", line)
        if not m or cur is None:
            continue
        key = m.group(1)
        assert key not in out[cur][1], f"{page}: [{cur}] {key} twice"
        text = lines[i + 1] if i + 1 < len(lines) else ""
        assert text.startswith("\t"), \
            f"{page}: [{cur}] {key}: its text must follow, indented"
        out[cur][1][key] = text.strip()
    return out


def check_entry(page, section, key, default, required, first):
    where = f"{page}: [{section}] {key}"
    if default is not None:
        m = re.match(r"Default: \*(.+?)\*\.", first)
        assert m, f"{where}: should start 'Default: *{default}*.', " \
            f"not {first!r}"
        assert m.group(1) == default, \
            f"{where}: the page says {m.group(1)!r}, the table {default!r}"
    elif required:
        assert first.startswith("Required."), \
            f"{where}: required in the table; the page says {first!r}"
    else:
        assert first.startswith("Unset by default"), \
            f"{where}: no default in the table; the page says {first!r}"


def test_every_table_belongs_to_a_loader(tables):
    used = set()
    for loader, want in SECTIONS.items():
        found = loader_sections(loader, tables)
        assert [s for s, _, _ in found] == want, \
            f"{loader} declares the sections {[s for s, _, _ in found]}: " \
            f"document a new one in {LOADERS[loader]} and list it in " \
            "SECTIONS here"
        used |= {t for _, _, t in found}
    assert set(tables) <= used, \
        f"tables no loader's section uses: {set(tables) - used}"
    assert used <= set(tables), \
        f"sections whose table was not read: {used - set(tables)}"


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_every_key_is_documented(loader, tables):
    page = LOADERS[loader]
    doc = documented_keys(page)
    for section, named, table in loader_sections(loader, tables):
        assert section in doc, f"{page}: no '## [{section}' heading"
        doc_named, keys = doc[section]
        assert doc_named == named, \
            f"{page}: [{section}] is {'named' if named else 'single'}"
        for key, default, required in tables[table]:
            assert key in keys, \
                f"{page}: [{section}] does not document {key} ({table})"
            check_entry(page, section, key, default, required, keys[key])


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_no_stale_keys(loader, tables):
    page = LOADERS[loader]
    doc = documented_keys(page)
    sections = {s: t for s, _, t in loader_sections(loader, tables)}
    assert set(doc) == set(sections), \
        f"{page} documents sections {sorted(doc)}, the loader has " \
        f"{sorted(sections)}"
    for section, (_, keys) in doc.items():
        real = {k for k, _, _ in tables[sections[section]]}
        assert set(keys) <= real, \
            f"{page}: [{section}] documents keys the loader does not " \
            f"have: {sorted(set(keys) - real)}"


# --- commands ----------------------------------------------------------------

def help_text(*args):
    return lib.run(*args, "--help", expect=0).stdout


def commands_in_help(text, heading):
    """The command words of a --help text: the lines after `heading` up
    to the next blank line, or (heading None) the first block of lines
    that all read "  WORD what it does"."""
    blocks, cur = [], []
    for line in text.splitlines() + [""]:
        if line.strip():
            cur.append(line)
        elif cur:
            blocks.append(cur)
            cur = []
    row = re.compile(r"  ([a-z][a-z-]*) +\S")
    if heading is not None:
        block = next((b[b.index(heading) + 1:] for b in blocks
                      if heading in b), [])
    else:
        block = next((b for b in blocks if all(row.match(x) for x in b)),
                     [])
    out = []
    for line in block:
        m = row.match(line)
        assert m, f"cannot read the command line {line!r}"
        out.append(m.group(1))
    assert out, f"no commands read from:\n{text}"
    return out


def page_parts(page, prefix):
    """{command: its text} for the "## PREFIX COMMAND" parts of a page."""
    parts, cur = {}, None
    for line in page_source(page).splitlines():
        if line.startswith("#"):
            m = re.fullmatch(rf"## {prefix} ([a-z][a-z-]*)", line)
            cur = m.group(1) if m else None
            if cur:
                assert cur not in parts, f"{page}: {line} twice"
                parts[cur] = []
            continue
        if cur:
            parts[cur].append(line)
    return {k: "\n".join(v) for k, v in parts.items()}


def long_options(text):
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))


# Every command takes these; isthmus(1) says so once, under COMMON
# OPTIONS, and the daemons' pages list them.
COMMON = {"--help", "--verbose", "--quiet"}


def check_parts(page, prefix, commands, help_of):
    parts = page_parts(page, prefix)
    assert COMMON <= long_options(page_source(page).replace("*", "")) or \
        page != "isthmus.1", f"{page} does not name {sorted(COMMON)}"
    assert sorted(parts) == sorted(commands), \
        f"{page}: the parts '## {prefix} ...' are {sorted(parts)}, " \
        f"--help lists {sorted(commands)}"
    for cmd in commands:
        # The page escapes nothing in option names; scdoc's bold stars
        # around them are dropped for the comparison.
        text = parts[cmd].replace("*", "")
        missing = long_options(help_of(cmd)) - long_options(text) - COMMON
        assert not missing, \
            f"{page}: {prefix} {cmd} does not mention {sorted(missing)}"


def test_isthmus_page_has_every_command():
    commands = commands_in_help(help_text(), "Commands:")
    check_parts("isthmus.1", "isthmus", commands, help_text)


def test_pki_page_has_every_pki_command():
    commands = commands_in_help(help_text("pki"), None)
    check_parts("isthmus-pki.1", "isthmus pki", commands,
                lambda c: help_text("pki", c))


@pytest.mark.parametrize("daemon", ["cloud", "edge"])
def test_daemon_page_has_its_options(daemon):
    text = page_source(f"isthmus-{daemon}.8").replace("*", "")
    missing = long_options(help_text(daemon)) - long_options(text)
    assert not missing, f"isthmus-{daemon}(8) does not mention {missing}"


# --- building and rendering ------------------------------------------------

def pages():
    found = sorted(p.name[:-len(".scd")] for p in MAN.glob("*.scd"))
    assert found, f"no pages in {MAN}"
    return found


def build_dir():
    build = lib.BIN.resolve().parent
    info = build / "meson-info" / "intro-targets.json"
    if not info.exists():
        pytest.fail(f"{build} is not a meson build directory (no {info}): "
                    "the pages are looked for beside ISTHMUS_BIN")
    return build, json.loads(info.read_text())


def man_option(build):
    opts = json.loads((build / "meson-info" / "intro-buildoptions.json")
                      .read_text())
    return next((o["value"] for o in opts if o["name"] == "man"), None)


def roff_without_date(text):
    """scdoc dates its .TH line with the day it ran."""
    return re.sub(r'^\.TH .*$', ".TH", text, count=1, flags=re.M)


def test_build_makes_and_installs_every_page(tmp_path):
    scdoc = scdoc_bin()
    build, targets = build_dir()
    by_name = {Path(f).name: t for t in targets for f in t["filename"]}
    for page in pages():
        if page not in by_name:
            pytest.fail(f"{build} builds no {page}: " + (
                "its man option is disabled (meson configure -Dman=auto)"
                if man_option(build) == "disabled" else
                "meson did not find scdoc when it configured the build "
                f"(install it, then meson setup --reconfigure {build}), "
                "or man/meson.build does not list the page"))
        t = by_name[page]
        built = Path(t["filename"][0])
        assert built.exists(), f"{built} not built (ninja -C {build})"
        section = page.rsplit(".", 1)[1]
        assert t["installed"] and any(
            Path(f).parent.name == f"man{section}"
            for f in t["install_filename"]), \
            f"{page} is not installed into man{section}: {t}"
        fresh = subprocess.run([scdoc], input=page_source(page),
                               capture_output=True, text=True)
        assert roff_without_date(built.read_text()) == \
            roff_without_date(fresh.stdout), \
            f"{built} is not what man/{page}.scd gives: rebuild"


@pytest.mark.parametrize("page", pages())
def test_page_renders_without_warnings(page, tmp_path):
    scdoc = scdoc_bin()
    res = subprocess.run([scdoc], input=page_source(page),
                         capture_output=True, text=True)
    assert res.returncode == 0 and res.stderr == "", \
        f"scdoc on man/{page}.scd: {res.stderr}"
    roff = tmp_path / page
    roff.write_text(res.stdout)
    for tool in ("groff", "man"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (Debian: groff-base, man-db)")
    g = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", str(roff)],
                       capture_output=True, text=True)
    assert g.returncode == 0 and g.stderr == "", \
        f"groff warns on {page}:\n{g.stderr}"
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    m = subprocess.run(["man", "--warnings", "-l", str(roff)],
                       capture_output=True, text=True, env=env)
    assert m.returncode == 0 and m.stderr == "", \
        f"man -l {page}:\n{m.stderr}"
    # What the reader sees: the name line, and every documented key.
    text = m.stdout
    assert re.search(r"^NAME\n\s+\S", text, re.M), text[:400]
    if page.endswith(".5"):
        for _, keys in documented_keys(page).values():
            for key in keys:
                assert re.search(rf"^\s+{key} = ", text, re.M), \
                    f"{page}: {key} is not in the rendered page"
