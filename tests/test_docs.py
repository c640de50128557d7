"""The README stays a short overview and the docs/ pages keep everything it used to say.

``tests/fixtures/readme_e5b9c1a_facts.txt`` is every code line and table row of the README as it was before the
detail moved to docs/ (commit e5b9c1a, 1,189 lines), made once with
``git show e5b9c1a:README.md | python tests/test_docs.py > tests/fixtures/readme_e5b9c1a_facts.txt``,
so the check does not need the git history. When what a line describes changes on purpose (a renamed command,
a new default), edit that line of the fixture in the same commit; deleting one is saying the fact is gone.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FACTS = Path(__file__).parent / "fixtures" / "readme_e5b9c1a_facts.txt"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
SEPARATOR = re.compile(r"[|\s:-]+")  # a table's header rule


def facts(markdown: str) -> list[str]:
    """Every non-blank line inside a fenced block and every table row except the header separators, in order,
    each once."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif line.strip() if fenced else line.startswith("|") and not SEPARATOR.fullmatch(line):
            out.append(line)
    return list(dict.fromkeys(out))


def normalize(line: str) -> str:
    """Whitespace collapsed, links reduced to their text (a moved page's links change, not what they say)."""
    return " ".join(LINK.sub(r"\1", line).split())


def prose(markdown: str) -> str:
    """The text outside fenced blocks and inline code, where links are."""
    return re.sub(r"`[^`\n]*`", "", FENCED.sub("", markdown))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = LINK.sub(r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCED.sub("", page.read_text())
    return {slug(m) for m in re.findall(r"^#+\s+(.*)$", text, flags=re.MULTILINE)}


def test_readme_fits_on_a_screen():
    n = len((ROOT / "README.md").read_text().splitlines())
    assert n < 150, f"README.md has {n} lines: move detail to a docs/ page"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for _, target in LINK.findall(prose(page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_nothing_lost():
    """Every command line and table row the README had before the move is on some page today."""
    text = "\n".join(normalize(line) for page in PAGES for line in page.read_text().splitlines())
    lost = [line for line in FACTS.read_text().splitlines() if normalize(line) not in text]
    assert not lost, f"{len(lost)} lines of the old README are on no page (README.md, docs/*.md): {lost[:5]}"


def test_ci_runs_the_readme_test_command():
    """.ci/run runs the README's test command, so the README must still show it in a command block."""
    ci = re.search(r"^exec (.+)$", (ROOT / ".ci" / "run").read_text(), flags=re.MULTILINE).group(1).strip()
    commands = [line.split("#")[0].strip() for line in facts((ROOT / "README.md").read_text())]
    assert ci in commands, f"the README shows no `{ci}` command, which .ci/run runs"


if __name__ == "__main__":  # regenerate the fixture from a README on stdin
    sys.stdout.write("".join(line + "\n" for line in facts(sys.stdin.read())))


def test_the_readmes_learning_table_is_the_committed_runs():
    """The README's table of the learning experiment is the one ``benchmarks/learning.py`` wrote for the run
    committed under benchmarks/results/learning, row for row: numbers typed by hand drift from the run."""
    summary = (ROOT / "benchmarks" / "results" / "learning" / "summary.md").read_text()
    table = summary[summary.index("| arm | seeds |") :].split("\n\n")[0].splitlines()
    readme = (ROOT / "README.md").read_text().splitlines()
    assert len(table) >= 3 and [row for row in table if row not in readme] == []
