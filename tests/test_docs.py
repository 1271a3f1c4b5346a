"""The documentation stays readable and connected: narrow tables, links that resolve, every recipe field described.

Covers README.md and docs/*.md. Anchors are checked against GitHub's heading slugs, so a renamed heading that
breaks a link fails here rather than on the rendered page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_TABLE_LINE = 160
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`[^`]*`")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
HTML_ID = re.compile(r"""\bid=["']([^"']+)["']""")


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, where Markdown syntax means something."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(path):
        found.update(HTML_ID.findall(line))
        match = HEADING.match(line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path: Path, repo: Path = REPO) -> list[str]:
    """Relative links whose file is missing, that leave the repository, or whose #anchor is no heading there."""
    problems = []
    for number, line in prose_lines(path):
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(repo)}:{number}: {target}"
            if not dest.is_relative_to(repo.resolve()):
                problems.append(f"{where} (outside the repository)")
            elif not dest.exists():
                problems.append(f"{where} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(f"{where} (no heading with anchor #{anchor})")
    return problems


def test_slug_follows_github():
    assert slug("`strategy.*`, `distill.*`, `mlm.*`") == "strategy-distill-mlm"
    assert slug("Batch prediction, 5,000 IMDb reviews") == "batch-prediction-5000-imdb-reviews"
    assert slug("Learning rate: `nlptl lr-find`, `train.lr auto`") == "learning-rate-nlptl-lr-find-trainlr-auto"


def test_broken_links_are_found(tmp_path):
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "a.md").write_text("# Title\n\n## Real section\n")
    (tmp_path / "x.md").touch()
    page = repo / "README.md"
    page.write_text("[ok](docs/a.md#real-section) [gone](docs/b.md) [bad](docs/a.md#nope) [out](../x.md)\n"
                    "`[code](not/a/link.md)`\n```\n[fenced](nor/this.md)\n```\n")
    problems = broken_links(page, repo)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "docs/b.md (no such file)", "docs/a.md#nope (no heading with anchor #nope)", "../x.md (outside the repository)"]


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_table_lines_are_narrow(path):
    wide = [f"{path.name}:{n} ({len(line)} characters)" for n, line in prose_lines(path)
            if line.lstrip().startswith("|") and len(line) > MAX_TABLE_LINE]
    assert not wide, f"table lines over {MAX_TABLE_LINE} characters (reflow into a list): {wide}"


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_relative_links_resolve(path):
    assert not broken_links(path)


def test_ci_runs_the_readme_test_command():
    ci_commands = [line for line in (REPO / ".ci" / "run").read_text().splitlines()
                   if "pytest" in line and not line.startswith("#")]
    readme = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert ci_commands and all(command in readme for command in ci_commands)
