"""`vendstack`: one command line over the kit's modules; every command has --help, bad input
exits 2, and the Makefile and pyproject.toml wire it up."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from customer_stack import cli

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ["publish", "render", "usage-report", "sandbox", "demo", "openapi", "admin"]


def _run(args: list[str], capsys) -> tuple[int, str]:
    try:
        code = cli.main(args)
    except SystemExit as exc:  # argparse's --help and usage errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_top_level_help_lists_every_command(capsys) -> None:
    code, out = _run(["--help"], capsys)
    assert code == 0
    assert set(COMMANDS) <= set(re.findall(r"^    ([a-z-]+)", out, re.M))
    assert set(cli.COMMANDS) == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_its_own_help(command, capsys) -> None:
    code, out = _run([command, "--help"], capsys)
    assert code == 0
    assert out.startswith(f"usage: vendstack {command}")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["nope"],
        ["publish", "--bogus"],
        ["publish", "--version", "1.2"],
        ["render", "--api-url", "https://x.example"],
        ["usage-report", "--table", "t", "--from", "2026-11-30", "--to", "2026-11-01"],
        ["usage-report", "--table", "t", "--from", "x", "--to", "2026-11-01"],
        ["demo", "extra"],
        ["openapi", "--template", "/nonexistent/template.json"],
    ],
    ids=lambda a: " ".join(a) or "(nothing)",
)
def test_bad_input_exits_2_and_says_why(args, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # nothing is written or read from the checkout
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    code, out = _run(args, capsys)
    assert code == 2
    assert "error" in out or "publish:" in out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["demo", "sandbox"])
def test_commands_that_need_the_synth_say_so(command, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = _run([command], capsys)
    assert code == 2
    assert "make synth" in out


def test_pyproject_installs_the_command_without_shadowing_the_constructs_library() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"vendstack": "customer_stack.cli:main"}
    packages = project["tool"]["setuptools"]["packages"]
    assert "constructs" not in packages and "customer_stack" in packages and "sandbox" in packages
    for package in packages:
        assert (ROOT / package.replace(".", "/") / "__init__.py").is_file(), package


def test_the_makefile_targets_call_the_command() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "VENDSTACK := $(PY) -m customer_stack.cli" in makefile
    for target, command in [
        ("sandbox", "sandbox"),
        ("demo", "demo"),
        ("usage-report", "usage-report"),
        ("openapi", "openapi"),
    ]:
        body = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
        assert f"$(VENDSTACK) {command}" in body, target
