"""The configurations in examples/ (README, docs/guide.md): as shipped,
`--check` names every value left to fill in and says what goes there;
made as their comments say (the PKI commands in cloud.conf's header, each
"FILL IN" line's command), all three pass `--check`."""

import re
import shlex
import shutil
from pathlib import Path

from isthmus_testlib import run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KINDS = {"cloud.conf": "cloud", "edge-agw.conf": "edge",
         "edge-bgw.conf": "edge"}


def fill_ins(conf):
    """(line number of the value, the command its comment names)."""
    lines = conf.read_text().splitlines()
    out = []
    for i, ln in enumerate(lines):
        m = re.match(r"# FILL IN: the spki_sha256 line of `(isthmus [^`]+)`",
                     ln)
        if m:
            out.append((i + 2, m.group(1)))
    return out


def check(d, name):
    return run(KINDS[name], "-c", d / name, "--check")


def test_as_shipped_check_names_each_value_to_fill_in(tmp_path):
    d = tmp_path / "ex"
    shutil.copytree(EXAMPLES, d)
    for name in KINDS:
        todo = fill_ins(d / name)
        assert todo, f"{name} has no FILL IN line"
        res = check(d, name)
        assert res.returncode == 2, res.stderr
        errors = res.stderr.strip().splitlines()
        assert len(errors) == len(todo), res.stderr
        for (line, cmd), err in zip(todo, errors):
            assert err.startswith(f"{d / name}:{line}: ") or \
                err.startswith(f"{name}:{line}: "), err
            assert "is a placeholder of the example configuration" in err
            assert "isthmus pki show" in err


def test_made_as_their_comments_say_all_three_pass_check(tmp_path):
    d = tmp_path / "ex"
    shutil.copytree(EXAMPLES, d)
    # The PKI, with the commands of cloud.conf's header, run beside it.
    cmds = [ln[1:].strip() for ln in (d / "cloud.conf").read_text()
            .splitlines() if re.match(r"#\s+isthmus pki ", ln)]
    assert len(cmds) >= 4, cmds
    for c in cmds:
        argv = shlex.split(c)
        assert argv[0] == "isthmus"
        run(*argv[1:], expect=0, cwd=d)
    for name in KINDS:
        conf = d / name
        text = conf.read_text().splitlines()
        for line, cmd in fill_ins(conf):
            shown = run(*shlex.split(cmd)[1:], expect=0, cwd=d).stdout
            pin = re.search(r"^spki_sha256:\s+(sha256:[0-9a-f]{64})$", shown,
                            re.M).group(1)
            key, _ = text[line - 1].split("=", 1)
            text[line - 1] = f"{key.strip()} = {pin}"
        conf.write_text("\n".join(text) + "\n")
        res = check(d, name)
        assert res.returncode == 0, (name, res.stderr)
