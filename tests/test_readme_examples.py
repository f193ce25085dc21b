"""Every fenced example in README.md and docs/*.md works as written.

New pages under docs/ are picked up automatically. What each kind of block must do:

- ```bash / ```sh / ```console: every command runs (bash, in a temp copy of the checkout whose
  `../shared` is the real one) and exits 0. Never run: the install command, `pytest` itself,
  `apt-get`. `pip install ./FOLDER` installs a copy into a temp folder on PYTHONPATH for the rest of
  the block (never into the shared venv).
- ```yaml: a block with scenario keys is validated by recagent's loader; a fragment (say an `llm:`
  block) is merged into a minimal synthetic scenario first. Other YAML must parse.
- ```python: runs in a fresh interpreter; ```toml and ```json must parse.
- Blocks without a language (or `text`) are sample output and are not run.

A marker comment on the line before a block changes that:

- `<!-- file: PATH -->`: the block must equal the file PATH of the repository (shown code stays true).
- `<!-- test: options -->`: a command that runs for minutes or serves forever: each command runs
  with `--help` appended, which checks the command and every option name without running it.
- `<!-- not-tested: REASON -->`: an illustrative block (keep these rare).

Blocks that mention `../shared` skip, with that reason, when the reference data is absent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, SHARED_DATA

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>not-tested|test|file)\s*:\s*(?P<value>.*?)\s*-->\s*$")
NEVER_RUN = (
    (re.compile(r"^python -m venv\b|^(python -m )?pip install -e\b"), "the install command"),
    (re.compile(r"^pytest\b"), "the test suite itself"),
    (re.compile(r"^(sudo )?apt-get\b"), "a system package install"),
)
LOCAL_INSTALL = re.compile(r"^(?:python -m )?pip install (\./\S+)$")
SHELL_LANGS = {"bash", "sh", "shell", "console"}


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    marker: tuple[str, str] | None

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}-{self.lang or 'text'}"


def fenced_blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = len(m["indent"]), m["fence"], m["lang"].lower()
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        mm = MARKER.match(lines[j]) if j >= 0 else None
        body, k = [], i + 1
        while k < len(lines) and not (lines[k].strip().startswith(fence[0] * len(fence))
                                      and not lines[k].strip().strip(fence[0])):
            line = lines[k]
            body.append(line[indent:] if not line[:indent].strip() else line.lstrip())  # list-item blocks are indented
            k += 1
        blocks.append(Block(page, i + 1, lang, "\n".join(body) + "\n", (mm["kind"], mm["value"]) if mm else None))
        i = k + 1
    return blocks




@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A temp folder that looks like the checkout (links to its folders) with `../shared` beside it,
    so that run folders and other outputs land in the temp folder, not the repository."""
    base = tmp_path_factory.mktemp("readme")
    work = base / "recagent"
    work.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in {".git", ".venv", "runs", ".pytest_cache"} and not entry.name.endswith(".egg-info"):
            (work / entry.name).symlink_to(entry)
    if SHARED_DATA.exists():
        (base / "shared").symlink_to(SHARED_DATA.parent)
    return work


def _skip_without_shared(block: Block) -> None:
    if "shared/" in block.text and not (SHARED_DATA / "ml-100k" / "u.data").exists():
        pytest.skip(f"{block.id}: uses ../shared/data, which is not on this machine")


def _commands(text: str) -> list[str]:
    """Shell commands of a block: continuation lines joined, comment-only lines and prompts dropped."""
    commands, current = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        line = re.sub(r"^\$ ", "", line) if not current else line
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        commands.append((current + line).strip())
        current = ""
    return commands


def _strip_comment(command: str) -> str:
    return re.sub(r"\s+#\s.*$", "", command)


def _install_local(folder: str, checkout: Path, site: Path) -> None:
    """`pip install ./PKG` as the docs say, but into a temp folder (put on PYTHONPATH for the rest of the
    block) rather than the shared venv, built from a copy so that no build files land in the repository."""
    source = site.parent / "build-src"
    shutil.copytree(checkout / folder, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    _run(f"{sys.executable} -m pip install --no-deps --no-build-isolation --no-index --quiet --target {site} {source}",
         checkout)


def _run(command: str, cwd: Path, timeout: int = 600, pythonpath: Path | None = None) -> None:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(pythonpath), env.get("PYTHONPATH", "")) if p)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("COLUMNS", "120")
    done = subprocess.run(["bash", "-c", "set -o pipefail; " + command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"`{command}` exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _scenario_base() -> dict:
    return {"name": "docs-example", "dataset": {"kind": "synthetic"}}


def _check_yaml(block: Block, checkout: Path, monkeypatch) -> None:
    """Relative paths in the example resolve from the checkout's root, as they would for a reader."""
    from recagent.scenario import Scenario
    from recagent.scenario_loading import load_scenario

    data = yaml.safe_load(block.text)
    if not isinstance(data, dict) or not set(data) & set(Scenario.model_fields):
        return  # not a scenario (it parsed, which is all we can say)
    if set(data) - set(Scenario.model_fields):
        pytest.fail(f"{block.id}: unknown scenario keys {sorted(set(data) - set(Scenario.model_fields))}")
    merged = data if {"name", "dataset"} <= set(data) else {**_scenario_base(), **data}
    llm = merged.get("llm") or {}
    if isinstance(llm, dict) and llm.get("api_key_env"):
        monkeypatch.setenv(llm["api_key_env"], "sk-docs-example")  # the key's name must be set, never its value
    path = checkout / f"example-{block.page.stem}-{block.line}.yaml"
    path.write_text(yaml.safe_dump(merged, sort_keys=False, default_flow_style=False), encoding="utf-8")
    load_scenario(path)


TESTED_LANGS = SHELL_LANGS | {"yaml", "python", "toml", "json"}


def _worth_a_test(block: Block) -> bool:
    """Sample output, and blocks holding only the install or test command, get no test item."""
    if block.lang not in TESTED_LANGS:
        return False
    if block.lang in SHELL_LANGS and block.marker is None:
        return not all(any(p.search(c) for p, _ in NEVER_RUN) for c in _commands(block.text))
    return True


ALL_BLOCKS = [b for page in PAGES for b in fenced_blocks(page) if _worth_a_test(b)]

# Examples that run many simulations or train a policy (6-23 s each on the 2-core machine): `slow`,
# so `pytest -m "not slow"` stays a few minutes; the full suite still runs every one. A block that reads
# a study's folder (runs/sweep-..., runs/cmp-...) needs the slow block that wrote it, so it is slow too.
SLOW_EXAMPLE = re.compile(r"recagent (compare|sweep|rl|serve|findings)\b|--serve|recagent\.rl\b|PPO|train_policy"
                          r"|runs/(sweep|cmp)-")


def _marked(block: Block):
    slow = block.page.name == "rl.md" or bool(SLOW_EXAMPLE.search(block.text))
    return pytest.param(block, id=block.id, marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("block", [_marked(b) for b in ALL_BLOCKS])
def test_documented_example(block: Block, checkout: Path, tmp_path: Path, monkeypatch):
    kind, value = block.marker or (None, None)
    if kind == "not-tested":
        assert value, f"{block.id}: a not-tested marker must say why"
        pytest.skip(f"{block.id}: not tested: {value}")
    if kind == "file":
        shown = (ROOT / value).read_text(encoding="utf-8")
        assert block.text.strip() == shown.strip(), f"{block.id} differs from {value}"
        return
    if block.lang in SHELL_LANGS:
        _skip_without_shared(block)
        site = None
        for command in _commands(block.text):
            if any(pattern.search(command) for pattern, _ in NEVER_RUN):
                continue
            local = LOCAL_INSTALL.match(_strip_comment(command))
            if local:
                site = tmp_path / "site"
                _install_local(local[1], checkout, site)
                continue
            if kind == "test" and value.startswith("options"):
                command = _strip_comment(command) + " --help"
            _run(command, checkout, pythonpath=site)
    elif block.lang == "yaml":
        _skip_without_shared(block)
        _check_yaml(block, checkout, monkeypatch)
    elif block.lang == "python":
        _skip_without_shared(block)
        script = tmp_path / "example.py"
        script.write_text(block.text, encoding="utf-8")
        _run(f"{sys.executable} {script}", checkout)
    elif block.lang == "toml":
        tomllib.loads(block.text)
    elif block.lang == "json":
        json.loads(block.text)
