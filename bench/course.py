"""The course's experiments (examples/course/*.net) -> docs/course/*.png and results.md.

Each experiment trains its variants with the same calls as the commands written in the .net
files (`netlang train --set/--sweep`, `netlang compare`), then records the comparison table and
picture. Run from the repository root (transfer needs ../shared/data):

    python bench/course.py [regularization batchnorm classics rnn transfer]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "examples" / "course"
DOCS = ROOT / "docs" / "course"
RUNS = ROOT / "runs" / "course"
QUIET = {"log": lambda line: None, "quiet": True, "tracking": None}


def _train(name: str, out: Path, model: str | None = None, **settings: str) -> dict:
    from netlang.train.run import train_file

    result = train_file(COURSE / name, model, {"out": str(out)}, settings=settings, **QUIET)
    return result.test or {}


def _compare(title: str, picture: str, runs: list[Path]) -> str:
    from netlang.train.compare import compare, format_table

    _, rows = compare(runs, DOCS / picture)
    return f"## {title}\n\n```\n{format_table(rows)}```\n\n![{title}]({picture})\n"


def regularization() -> str:
    base = RUNS / "regularization"
    for p in ("0", "0.2", "0.5"):
        _train("regularization.net", base / f"p={p}", p=p)
    _train("regularization.net", base / "l2", regularize="l2(0.1)")
    _train("regularization.net", base / "early", early_stop="patience=5")
    dropout = _compare(
        "Dropout 0 / 0.2 / 0.5", "dropout.png", [base / "p=0", base / "p=0.2", base / "p=0.5"]
    )
    remedies = _compare(
        "Without / with L2 / early stopping",
        "remedies.png",
        [base / "p=0", base / "l2", base / "early"],
    )
    return dropout + "\n" + remedies


def batchnorm() -> str:
    base = RUNS / "batchnorm"
    for bn in ("false", "true"):
        _train("batchnorm.net", base / f"bn={bn}", bn=bn)
    return _compare(
        "Without / with batch norm", "batchnorm.png", [base / "bn=false", base / "bn=true"]
    )


def classics() -> str:
    base = RUNS / "classics"
    for model in ("LeNet5", "LeNet5Modern", "SmallVgg"):
        _train("cnn_classics.net", base / model, model)
    return _compare(
        "LeNet-5, modern LeNet, small VGG",
        "cnn_classics.png",
        [base / m for m in ("LeNet5", "LeNet5Modern", "SmallVgg")],
    )


def rnn() -> str:
    _train("rnn.net", RUNS / "rnn")
    return _compare("LSTM reading rows", "rnn.png", [RUNS / "rnn"])


def transfer(seeds: tuple[int, ...] = (0, 1, 2, 3, 4)) -> str:
    base = RUNS / "transfer"
    if not (COURSE / "runs" / "digits" / "checkpoints" / "best.safetensors").is_file():
        _train("transfer.net", COURSE / "runs" / "digits", "LeNet5Modern")
    scores: dict[str, list[float]] = {"Letters": [], "LettersScratch": []}
    for seed in seeds:
        for model in scores:
            out = base / model / f"seed={seed}"
            test = _train("transfer.net", out, model, seed=str(seed), val_every="5")
            scores[model].append(100 * test["accuracy"])
    lines = [
        "## Transfer vs from scratch, 100 labelled letters\n",
        "| model | mean | std | per seed |",
        "| --- | --- | --- | --- |",
    ]
    for model, values in scores.items():
        per = ", ".join(f"{v:.2f}" for v in values)
        lines.append(
            f"| {model} | {statistics.mean(values):.2f}% | {statistics.stdev(values):.2f} | {per} |"
        )
    gaps = [a - b for a, b in zip(scores["Letters"], scores["LettersScratch"])]
    lines.append(
        f"\nPer-seed gain of transfer: {', '.join(f'{g:+.2f}' for g in gaps)} points "
        f"(mean {statistics.mean(gaps):+.2f}, smallest {min(gaps):+.2f}).\n"
    )
    picture = _compare(
        "Seed 0: transfer vs scratch",
        "transfer.png",
        [base / "Letters" / "seed=0", base / "LettersScratch" / "seed=0"],
    )
    return "\n".join(lines) + "\n" + picture


EXPERIMENTS = {
    "regularization": regularization,
    "batchnorm": batchnorm,
    "classics": classics,
    "rnn": rnn,
    "transfer": transfer,
}


def main(names: list[str]) -> int:
    import torch

    torch.set_num_threads(1)
    DOCS.mkdir(parents=True, exist_ok=True)
    for name in names or list(EXPERIMENTS):
        started = time.perf_counter()
        text = EXPERIMENTS[name]()
        seconds = time.perf_counter() - started
        (DOCS / f"{name}.md").write_text(
            text + f"\n({seconds:.0f} s on one CPU thread, `python bench/course.py {name}`)\n"
        )
        print(f"{name}: {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
