"""The documentation's rules: every link resolves, the front page stays a front page, and the
configuration table is the one the code prints."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").rglob("*.md"))]

FENCED = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
EXTERNAL = ("http://", "https://", "mailto:")


def prose(text: str) -> str:
    """The text without code: a link or heading shown as code is not one."""
    return INLINE_CODE.sub("", FENCED.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation but '-' and '_' dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCED.sub("", page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")  # GitHub numbers repeated headings
    return found


def links(page: Path) -> list[str]:
    return [target for target in LINK.findall(prose(page.read_text())) if not target.startswith(EXTERNAL)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_and_image_resolves(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_relative_to(REPO) or not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(REPO)}")
    assert broken == [], f"{page.relative_to(REPO)}: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_page_opens_with_a_title_and_a_summary(page):
    blocks = [block.strip() for block in page.read_text().split("\n\n") if block.strip()]
    assert blocks[0].startswith("# "), "a page starts with its title"
    assert not re.match(r"#|\||[-*] |\d+\. |```|~~~|!\[|>", blocks[1]), "then a paragraph that sums it up"


def test_the_readme_is_a_front_page():
    """A newcomer sees the product and the two commands on the first screen; the rest is in docs/."""
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, "move detail into docs/: the README is the front page"
    first_screen = lines[:40]
    assert any(re.search(r"!\[[^\]]*\]\(docs/img/[^)]+\)", line) for line in first_screen), "a picture of the product"
    for command in ("bash scripts/up.sh", "bash scripts/test.sh"):
        assert command in (line.strip() for line in first_screen), f"{command} on the first screen"


def test_the_configuration_page_lists_every_setting_as_the_cli_prints_it():
    """The configuration table is `dpoloop settings --markdown`: a setting added without it is invisible."""
    from typer.testing import CliRunner

    from cli.main import cli

    printed = CliRunner().invoke(cli, ["settings", "--markdown"]).output.strip().splitlines()
    page = (REPO / "docs" / "configuration.md").read_text().splitlines()
    table = [line for line in page if line.startswith("| `DPOLOOP_")]
    assert table == printed, "run `dpoloop settings --markdown` and paste it over docs/configuration.md's table"
