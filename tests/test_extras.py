"""The core install runs scenarios; each extra's absence is one line naming the pip install.

Each case runs the CLI in a fresh interpreter where the extra's modules cannot be imported (a
meta-path finder refuses them), as on a machine where `pip install recagent` left them out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from recagent.errors import UserError
from recagent.extras import EXTRAS, missing, require

BLOCKER = textwrap.dedent("""
    import sys, json
    from importlib.abc import MetaPathFinder
    BLOCKED = set(json.loads(sys.argv[1]))
    class Absent(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, Absent())
    import importlib.util
    _find = importlib.util.find_spec
    importlib.util.find_spec = lambda name, package=None: None if name.split(".")[0] in BLOCKED else _find(name, package)
    from typer.testing import CliRunner
    from recagent.cli import app
    result = CliRunner().invoke(app, json.loads(sys.argv[2]))
    print(json.dumps({"code": result.exit_code, "output": result.output}))
""")

EVERY_EXTRA = sorted({m for _, modules in EXTRAS.values() for m in modules})


def cli_without(blocked: list[str], args: list[str], cwd) -> dict:
    done = subprocess.run([sys.executable, "-c", BLOCKER, json.dumps(blocked), json.dumps(args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_require_names_the_extra_and_passes_when_installed():
    require("web")  # installed in the dev environment
    assert missing("web") == []
    with pytest.raises(UserError, match=r"pip install 'recagent\[memory\]'"):
        from unittest import mock

        with mock.patch("recagent.extras.find_spec", return_value=None):
            require("memory", "here.yaml")


@pytest.mark.slow  # each case starts a fresh interpreter with the CLI: about 5-15 s
def test_the_cli_starts_and_validates_the_quickstart_without_any_extra(tmp_path):
    result = cli_without(EVERY_EXTRA, ["--help"], tmp_path)
    assert result["code"] == 0 and "serve" in result["output"] and "rl" in result["output"]
    from tests.conftest import ROOT

    result = cli_without(EVERY_EXTRA, ["validate", str(ROOT / "scenarios" / "quickstart.yaml")], tmp_path)
    assert result["code"] == 0, result["output"]


@pytest.mark.slow
@pytest.mark.parametrize("args, extra", [
    (["serve", "."], "web"),
    (["rl", "train", "--dataset", "synthetic"], "rl"),
])
def test_a_command_without_its_extra_is_one_line(args, extra, tmp_path):
    result = cli_without(list(EXTRAS[extra][1]), args, tmp_path)
    out = result["output"].strip()
    assert result["code"] == 2, out
    assert len(out.splitlines()) == 1 and "Traceback" not in out, out
    assert f"pip install 'recagent[{extra}]'" in out


@pytest.mark.slow
@pytest.mark.parametrize("llm, extra", [
    ("{provider: fake, memory: {enabled: true}}", "memory"),
    ("{provider: local, model: smollm2-135m}", "local"),
])
def test_a_scenario_needing_an_extra_fails_validate_in_one_line(llm, extra, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(f"name: x\ndataset: {{kind: synthetic, users: 20, items: 40}}\nllm: {llm}\n"
                    "simulation: {steps: 1}\n")
    result = cli_without(list(EXTRAS[extra][1]), ["validate", str(path)], tmp_path)
    out = result["output"].strip()
    assert result["code"] == 2, out
    assert len(out.splitlines()) == 1 and "s.yaml" in out and "llm." in out, out
    assert f"pip install 'recagent[{extra}]'" in out
