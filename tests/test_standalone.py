"""The repository stands alone: a clone with nothing beside it runs, tests and documents itself.

Every tracked (or new, not ignored) file is searched for paths that lead out of the clone — into a
sibling `shared` checkout, or up past the root from `__file__`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve().relative_to(REPO)  # spells the patterns out, so it is not searched

OUTSIDE = [
    re.compile(r"\.\./+shared\b"),  # a sibling checkout beside the clone
    re.compile(r"\bshared/(?:tools|vectors|docs|seeds|hooks)\b"),  # that checkout's folders (ours has none)
    re.compile(r"""["']shared["']\s*/\s*["'](?:tools|vectors|docs|seeds|hooks)["']"""),  # the same, as Path parts
    re.compile(r"\b(?:REPO|ROOT)\.parent\b"),  # the directory holding the clone
]
PARENTS = re.compile(r"__file__\)\.resolve\(\)\.parents\[(\d+)\]")


def outside_references(relative: Path, text: str) -> list[str]:
    """The lines of a project file (at `relative` to the root) that reach outside the repository."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        # parents[k] of a/b/c.py is the root for k == 2, its folder depth; anything higher is outside.
        too_high = any(int(m.group(1)) > len(relative.parts) - 1 for m in PARENTS.finditer(line))
        if too_high or any(pattern.search(line) for pattern in OUTSIDE):
            found.append(f"{relative}:{number}: {line.strip()}")
    return found


def project_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"not a git checkout ({exc}): no file list to search")
    names = {Path(name) for name in listed.decode().split("\0") if name}
    return sorted(name for name in names if (REPO / name).is_file())


def test_no_file_points_outside_the_repository():
    files = project_files()
    assert {Path("tests/conftest.py"), Path("README.md"), THIS} <= set(files)  # the listing covers them
    offenders = []
    for relative in files:
        if relative == THIS:
            continue
        try:
            text = (REPO / relative).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        offenders += outside_references(relative, text)
    assert offenders == [], "paths leading out of the repository:\n" + "\n".join(offenders)


DOCUMENT = re.compile(r"\b((?:docs|tests/data)/[\w./-]*\w\.(?:md|json))\b")


def test_every_document_a_file_names_is_in_the_repository():
    missing = []
    for relative in project_files():
        try:
            text = (REPO / relative).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        missing += [f"{relative}: {name}" for name in DOCUMENT.findall(text) if not (REPO / name).is_file()]
    assert missing == []


@pytest.mark.parametrize(
    ("where", "line"),
    [
        ("tests/conftest.py", 'BOTSIM = Path(os.environ.get("X", REPO.parent / "shared" / "tools" / "botsim.py"))'),
        (
            "tests/calendar/test_core.py",
            'VECTORS = json.loads((Path(__file__).resolve().parents[3] / "shared" / "vectors" / "x.json").read_text())',
        ),
        ("tests/calendar/test_core.py", "DATA = Path(__file__).resolve().parents[3] / 'data.json'"),
        ("README.md", "Chat bots are played by `../shared/tools/botsim.py` (real HTTP)"),
        ("docs/sla-semantics.md", "against `shared/vectors/sla_deadlines.json`"),
    ],
)
def test_a_path_out_of_the_repository_is_caught(where, line):
    assert outside_references(Path(where), line) != []


@pytest.mark.parametrize(
    ("where", "line"),
    [
        ("tests/calendar/test_core.py", 'json.loads((Path(__file__).resolve().parents[1] / "data" / "x.json"))'),
        ("tests/deploy/test_compose.py", "ROOT = Path(__file__).resolve().parents[2]"),
        ("services/cli.py", "from shared.notify.channels import reencrypt_secrets"),
        ("docs/adr/0003-channel-secrets-at-rest.md", "(`shared/notify/channels.py`) encrypts on create/update"),
    ],
)
def test_a_path_inside_the_repository_is_not(where, line):
    assert outside_references(Path(where), line) == []
