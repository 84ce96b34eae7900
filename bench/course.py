"""The course's experiments (examples/course/*.net) -> docs/course/*.png and results.md.

Each experiment trains its variants with the same calls as the commands written in the .net
files (`netlang train --set/--sweep`, `netlang compare`), then records the comparison table and
picture. Run from the repository root (transfer downloads MNIST's t10k files and notMNIST into
examples/data on first use):

    python bench/course.py [regularization batchnorm classics rnn autoencoder transfer]

The models trained once and started from (transfer's source tasks) go to examples/course/runs.
"""

from __future__ import annotations

import json
import shutil
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
    shutil.copyfile(base / "LeNet5" / "curves.png", DOCS / "lenet_curves.png")  # chapter 1
    return _compare(
        "LeNet-5, modern LeNet, small VGG",
        "cnn_classics.png",
        [base / m for m in ("LeNet5", "LeNet5Modern", "SmallVgg")],
    )


def rnn() -> str:
    _train("rnn.net", RUNS / "rnn")
    _train("rnn.net", RUNS / "rnn16", hidden="16")  # chapter 5's second run
    return _compare(
        "LSTM reading rows, 64 and 16 hidden units", "rnn.png", [RUNS / "rnn", RUNS / "rnn16"]
    )


def autoencoder() -> str:
    base = RUNS / "autoencoder"
    for latent in ("2", "8", "32"):
        _train("autoencoder.net", base / f"latent={latent}", latent=latent)
    noisy = _train("autoencoder.net", RUNS / "denoising", augment="noise(0.3)")
    for run, name in ((base / "latent=8", "autoencoder"), (RUNS / "denoising", "denoising")):
        shutil.copyfile(run / "reconstructions.png", DOCS / f"{name}_reconstructions.png")
    shutil.copyfile(base / "latent=2" / "codes.png", DOCS / "autoencoder_codes.png")
    return (
        _compare(
            "Code of 2, 8, 32 numbers",
            "autoencoder.png",
            [base / f"latent={n}" for n in (2, 8, 32)],
        )
        + "\n![held-out digits and their reconstructions, latent=8]"
        "(autoencoder_reconstructions.png)\n"
        + "\n![the 2-number codes of held-out digits](autoencoder_codes.png)\n"
        + "\n![denoising: clean, noisy, reconstructed](denoising_reconstructions.png)\n"
        + f"\nDenoising (latent=8, noise(0.3)), test MSE: {noisy['noisy_mse']:.4f} from noisy "
        f"inputs whose own MSE to the clean digits is {noisy['noisy_input_mse']:.4f}; "
        f"{noisy['mse']:.4f} from clean inputs.\n"
    )


def _paired(file: str, source: str, transfer: str, scratch: str, seeds: range) -> dict:
    """Train the source model once, then transfer and scratch per seed: test accuracies (%)."""
    weights = COURSE / "runs" / source
    if not _complete(weights):
        _train(file, weights, _SOURCES[source])
    scores: dict[str, list[float]] = {transfer: [], scratch: []}
    for seed in seeds:
        for model in scores:
            out = RUNS / file.removesuffix(".net") / model / f"seed={seed}"
            scores[model].append(100 * _train(file, out, model, seed=str(seed))["accuracy"])
    return scores


def _complete(run: Path) -> bool:
    """A finished run of all its epochs (the tutorial's test trains the same folder 1 epoch)."""
    if not (run / "checkpoints" / "best.safetensors").is_file():
        return False
    epochs = json.loads((run / "config.json").read_text())["config"]["epochs"]
    return len(json.loads((run / "metrics.json").read_text())) == epochs


_SOURCES = {"a_to_e": "AtoE", "digits": "LeNet5Modern"}


def _spread_table(title: str, scores: dict[str, list[float]]) -> str:
    """Per-seed accuracies, mean and standard deviation, and the paired gain of transfer."""
    (transfer, t), (scratch, f) = scores.items()
    lines = [f"## {title}\n", "| model | mean | std | per seed |", "| --- | --- | --- | --- |"]
    for model, values in scores.items():
        per = ", ".join(f"{v:.2f}" for v in values)
        lines.append(
            f"| {model} | {statistics.mean(values):.2f}% | {statistics.stdev(values):.2f} | {per} |"
        )
    gaps = [a - b for a, b in zip(t, f)]
    spread = max(statistics.stdev(t), statistics.stdev(f))
    lines.append(
        f"\nGain of transfer per seed: {', '.join(f'{g:+.2f}' for g in gaps)} points; "
        f"mean {statistics.mean(gaps):+.2f}, std {statistics.stdev(gaps):.2f}, "
        f"smallest {min(gaps):+.2f}. "
        f"Larger spread of the two models over seeds: {spread:.2f}; the mean gain is "
        f"{'more' if statistics.mean(gaps) > spread else 'not more'} than that.\n"
    )
    return "\n".join(lines) + "\n"


def _seeds_picture(picture: str, panels: list[tuple[str, dict[str, list[float]]]]) -> None:
    """Test accuracy per seed, transfer and scratch side by side, a line joining each pair."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for axis, (title, scores) in zip(axes[0], panels):
        (transfer, t), (scratch, f) = scores.items()
        for a, b in zip(t, f):
            axis.plot([0, 1], [b, a], color="grey", alpha=0.6)
        axis.scatter([0] * len(f), f, label=f"{scratch} (scratch)", zorder=3)
        axis.scatter([1] * len(t), t, label=f"{transfer} (transfer)", zorder=3)
        for x, values in ((0, f), (1, t)):
            axis.errorbar(
                x + 0.08,
                statistics.mean(values),
                yerr=statistics.stdev(values),
                fmt="_",
                color="black",
                capsize=4,
                markersize=14,
            )
        axis.set_xticks([0, 1], ["from scratch", "transfer"])
        axis.set_xlim(-0.4, 1.4)
        axis.set_ylabel("test accuracy (%)")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    figure.suptitle("Transfer vs from scratch, 10 labelled letters per class, seeds 0-4")
    figure.tight_layout()
    figure.savefig(DOCS / picture, dpi=100)
    plt.close(figure)


TRANSFER_NOTES = """
### What it takes, honestly

- **The source task matters most.** From letters A-E to the new letters F-J (the lecture's
  "aprender nuevas clases") transfer wins on every seed and its mean gain is larger than the
  spread of either model over seeds. From MNIST digits to letters (another kind of image:
  thin strokes against glyphs of many fonts) transfer still wins on average, by less, but
  not on every seed (two of five lose by under a point), and the from-scratch runs vary so much
  with the 100 letters a seed picks that the gain is inside their spread. What the digits give
  is a steadier start, not a different place.
- **Few labels.** 10 labelled images per class. The gain shrinks as labels grow: with 50 letters
  per class, digits -> letters gave 87.00% vs 86.30% over 3 seeds (bench/transfer_results.md).
- **The recipe** is the lecture's: keep c1..c5 (the convolutions) frozen while the new classifier
  and f6 learn (15 epochs, lr 3e-3), then fine-tune everything at a tenth of the rate (15 epochs).
  Scratch trains the same 30 epochs at 3e-3, the best of 1e-3, 3e-3, 1e-2 for it with 50
  letters per class (bench/transfer_results.md; not re-tuned for 10). Both see the same
  augmentation and the same letters per seed.
- **Shipped epoch.** Both runs ship the epoch of lowest validation loss, judged on 1,000 (F-J) or
  2,000 (A-J) held-out letters every 5 epochs; with 10 labels per class a real project would not
  have such a validation set, and both models are given the same advantage.
- **Tried while choosing** (same seeds 0-4 unless said; not re-run by this script, and scored
  on the last epoch's weights, before test scored the shipped epoch): 5 labels per
  class, digits -> letters: 67.32% vs 63.30% (gain +4.02, every seed positive, spreads 3.3 and
  4.7: inside the spread again); A-E -> F-J with 5 per class, seed 0 only: 86.11% vs 81.51%;
  A-E -> F-J with longer training (40 + 20 epochs, batch 10), seeds 0-1: 88.25, 86.76 vs
  84.84, 86.03, no better than the shorter recipe kept here.
"""


def transfer(seeds: range = range(5)) -> str:
    new = _paired("transfer.net", "a_to_e", "FtoJ", "FtoJScratch", seeds)
    other = _paired("transfer_digits.net", "digits", "Letters", "LettersScratch", seeds)
    _seeds_picture(
        "transfer_seeds.png",
        [("letters A-E -> F-J (new classes)", new), ("digits -> letters A-J", other)],
    )
    base = RUNS / "transfer"
    picture = _compare(
        "Seed 0: letters F-J from the A-E network vs from scratch",
        "transfer.png",
        [base / "FtoJ" / "seed=0", base / "FtoJScratch" / "seed=0"],
    )
    return (
        _spread_table("New classes: letters A-E -> F-J, 50 labelled letters (transfer.net)", new)
        + "\n"
        + _spread_table(
            "Another kind of image: digits -> letters A-J, 100 labelled letters "
            "(transfer_digits.net)",
            other,
        )
        + "\n![test accuracy per seed](transfer_seeds.png)\n\n"
        + picture
        + TRANSFER_NOTES
    )


EXPERIMENTS = {
    "regularization": regularization,
    "batchnorm": batchnorm,
    "classics": classics,
    "rnn": rnn,
    "autoencoder": autoencoder,
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
