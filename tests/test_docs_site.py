"""The documentation site builds in strict mode (a broken link between pages, a missing page or
a page left out of the navigation fails), and the README's own links resolve (issue 23)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mkdocs_builds_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is in the dev extra (make install)")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site"),
         "--config-file", str(ROOT / "mkdocs.yml")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").exists()


def test_every_docs_page_is_in_the_nav():
    import yaml

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    listed = set()

    def walk(items):
        for item in items:
            for value in item.values():
                walk(value) if isinstance(value, list) else listed.add(value)

    walk(nav)
    pages = {
        str(p.relative_to(ROOT / "docs"))
        for p in (ROOT / "docs").rglob("*.md")
        # mkdocs.yml's exclude_docs: folders of run records are data, not pages
        if not any(part == "records" or part.endswith("-records") for part in p.parts)
    }
    assert pages <= listed, f"pages missing from mkdocs.yml nav: {sorted(pages - listed)}"


def test_readme_links_resolve():
    text = (ROOT / "README.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.*)$", text, flags=re.M)
    }
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        if path:
            assert (ROOT / path).exists(), f"README links to missing {path}"
        elif anchor:
            assert anchor in anchors, f"README links to missing section #{anchor}"
