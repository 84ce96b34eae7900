"""`netlang serve` refuses bad command lines before it binds a port."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from netlang.cli import main
from netlang.runtime.device import CUDA, provider_usable


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["serve", *args, "--port", "1"])
    return result.exit_code, result.output


def test_duplicate_model_names_are_refused(model_dir: Path) -> None:
    code, output = run(str(model_dir / "clf.onnx"), str(model_dir / "clf.onnx"))
    assert code == 2 and "unique" in output


def test_more_names_than_models_is_refused(model_dir: Path) -> None:
    code, output = run(str(model_dir / "clf.onnx"), "--name", "a", "--name", "b")
    assert code == 2 and "more --name" in output


@pytest.mark.parametrize("name", ["a/b", "..", "sp ace"])
def test_names_that_are_not_url_segments_are_refused(model_dir: Path, name: str) -> None:
    code, output = run(str(model_dir / "clf.onnx"), "--name", name)
    assert code == 1 and "invalid model name" in output


def test_a_file_name_that_is_no_model_name_is_told_to_use_name(
    model_dir: Path, tmp_path: Path
) -> None:
    spanish = tmp_path / "modelo pequeño.onnx"
    spanish.write_bytes((model_dir / "clf.onnx").read_bytes())
    code, output = run(str(spanish))
    assert code == 1 and "invalid model name 'modelo pequeño'" in output
    assert (
        "from the file name modelo pequeño.onnx: give it one with --name modelo_pequeno" in output
    )


def test_empty_token_file_is_refused(model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n")
    code, output = run(str(model_dir / "clf.onnx"), "--token-file", str(tmp_path / "token"))
    assert code == 1 and "token" in output


@pytest.mark.skipif(provider_usable(CUDA), reason="this host can run CUDA")
def test_cuda_device_without_cuda_is_an_error(model_dir: Path) -> None:
    code, output = run(str(model_dir / "clf.onnx"), "--device", "cuda")
    assert code == 1 and "CUDA is not usable" in output


@pytest.mark.parametrize(
    ("flags", "level", "access_log"),
    [((), "info", False), (("-q",), "warning", False), (("-v",), "info", True)],
)
def test_quiet_and_verbose_set_the_server_log(
    model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: tuple[str, ...],
    level: str,
    access_log: bool,
) -> None:
    import netlang.serve.server as server

    seen = []
    monkeypatch.setattr(server, "serve_forever", seen.append)
    code, output = run(str(model_dir / "clf.onnx"), *flags)
    assert code == 0, output
    assert (seen[0].log_level, seen[0].access_log) == (level, access_log)
