"""A non-editable install (a built wheel in a fresh venv) finds its grammar and standard library."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What the wheel is built from: a copy, so that setuptools' build/ and *.egg-info land in the
# test's own folder, not the checkout (where other tests would read them).
SOURCES = ("pyproject.toml", "README.md", "netlang", "grammar", "stdlib")


def isolated_env() -> dict[str, str]:
    """The caller's environment without its PYTHON* settings: a PYTHONPATH naming a checkout
    would let the venv's python import that netlang instead of the installed wheel."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def test_pyproject_lists_every_package_and_maps_grammar_and_stdlib() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    tree = {
        ".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "netlang").rglob("__init__.py")
    }
    mapped = {"netlang.grammar": "grammar", "netlang.stdlib": "stdlib"}
    assert set(config["packages"]) == tree | set(mapped)
    assert config["package-dir"] == mapped


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_ships_grammar_stdlib_and_digits(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(REPO / name, source / name)
    env = isolated_env()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        env=env,
    )
    wheel = next((tmp_path / "dist").glob("netlang-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    # The compiler needs only these; the wheel itself is installed without its heavy deps.
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel), "lark", "click"],
        check=True,
        env=env,
    )
    script = (
        "import netlang, importlib.resources as r; "
        "root = r.files('netlang'); "
        "print(netlang.__file__); "
        "print(sorted(x.name for x in root.joinpath('stdlib').iterdir())); "
        "print(root.joinpath('data/digits.csv.gz').is_file()); "
        "print(netlang.load(str(root.joinpath('stdlib/lenet.net'))).model('LeNet5').param_count)"
    )
    out = subprocess.run(
        [str(python), "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    ).stdout.splitlines()
    assert str(venv) in out[0]
    assert "resnet.net" in out[1] and "lenet.net" in out[1]
    assert out[2] == "True"
    assert out[3] == "61706"
    cli = subprocess.run(
        [str(venv / "bin" / "netlang"), "check", str(REPO / "examples" / "lenet.net")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert cli.returncode == 0, cli.stderr
