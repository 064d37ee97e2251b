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

# The sibling checkout's name, assembled so that this file never spells a path out of the repo itself.
SIBLING = "".join(("sha", "red"))
FOLDERS = "(?:tools|vectors|docs|seeds|hooks)"  # that checkout's folders (ours has none of them)
OUTSIDE = [
    re.compile(r"\.\./+" + SIBLING + r"\b"),  # a sibling checkout beside the clone
    re.compile(r"\b" + SIBLING + "/" + FOLDERS + r"\b"),  # that checkout's folders
    re.compile(r"""["']""" + SIBLING + r"""["']\s*/\s*["']""" + FOLDERS + """["']"""),  # the same, as Path parts
    re.compile(r"\b(?:REPO|ROOT)\.parent\b"),  # the directory holding the clone
]
PARENTS = re.compile(r"__file__\)\.resolve\(\)\.parents\[(\d+)\]")


def spelled(example: str) -> str:
    """An example line of this file as it would stand elsewhere (written with placeholders, so that
    this file passes its own search)."""
    return example.replace("{S}", SIBLING).replace("{parent}", "parent").replace("{parents}", "parents")


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
    this = Path(__file__).resolve().relative_to(REPO)  # searched like every other file
    assert {Path("tests/conftest.py"), Path("README.md"), this} <= set(files)  # the listing covers them
    offenders = []
    for relative in files:
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
        ("tests/conftest.py", 'BOTSIM = Path(os.environ.get("X", REPO.{parent} / "{S}" / "tools" / "botsim.py"))'),
        (
            "tests/calendar/test_core.py",
            'VECTORS = json.loads((Path(__file__).resolve().{parents}[3] / "{S}" / "vectors" / "x.json").read_text())',
        ),
        ("tests/calendar/test_core.py", "DATA = Path(__file__).resolve().{parents}[3] / 'data.json'"),
        ("README.md", "Chat bots are played by `../{S}/tools/botsim.py` (real HTTP)"),
        ("docs/sla-semantics.md", "against `{S}/vectors/sla_deadlines.json`"),
    ],
)
def test_a_path_out_of_the_repository_is_caught(where, line):
    assert outside_references(Path(where), spelled(line)) != []


@pytest.mark.parametrize(
    ("where", "line"),
    [
        ("tests/calendar/test_core.py", 'json.loads((Path(__file__).resolve().{parents}[1] / "data" / "x.json"))'),
        ("tests/deploy/test_compose.py", "ROOT = Path(__file__).resolve().{parents}[2]"),
        ("services/cli.py", "from shared.notify.channels import reencrypt_secrets"),
        ("docs/adr/0003-channel-secrets-at-rest.md", "(`shared/notify/channels.py`) encrypts on create/update"),
    ],
)
def test_a_path_inside_the_repository_is_not(where, line):
    assert outside_references(Path(where), spelled(line)) == []
