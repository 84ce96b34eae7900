"""Reconstruction (autoencoders): the target is the input itself. The training augmentation
(`augment noise(0.3)`) transforms the input only, redrawn every epoch by the loader, so a
denoising autoencoder is one line. Reports the reconstruction error (MSE and MAE on clean
inputs, and on noisy ones when there is an augmentation); pictures: inputs / noisy inputs /
reconstructions of held-out samples at the best epoch, and a scatter of the codes of a second
model output (the bottleneck, `output recon, code`), coloured by class."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from netlang.tasks.base import Task, TestContext, with_weights
from netlang.tasks.figures import as_images, plot_codes, plot_image_rows

if TYPE_CHECKING:
    from netlang.data import DataSplits, Dataset

GRID_SAMPLES = 10


class Reconstruction(Task):
    name = "reconstruction"
    default_loss = "mse"
    metric = "mae"
    higher_is_better = False

    def prepare(self, splits: DataSplits) -> DataSplits:
        """y := x; the class labels (if any) are kept as `labels`, for colouring the codes."""

        def own_input(ds: Dataset | None) -> Dataset | None:
            if ds is None:
                return None
            labels = ds.labels if ds.labels is not None else ds.y
            return replace(ds, y=ds.x, labels=labels)

        return replace(
            splits,
            train=own_input(splits.train),
            val=own_input(splits.val),
            test=own_input(splits.test),
        )

    def batch_metric(
        self, out: torch.Tensor, y: torch.Tensor, loss: str
    ) -> tuple[torch.Tensor, int] | None:
        return (out.float() - y.float().view_as(out)).abs().sum(), out.numel()

    def report(self, context: TestContext) -> dict[str, Any]:
        clean = context.collect()
        error = clean.out - clean.targets.view_as(clean.out)
        test: dict[str, Any] = {
            "loss": clean.loss,
            "mse": float(error.pow(2).mean()),
            "mae": float(error.abs().mean()),
            "examples": len(clean.targets),
        }
        line = f"{context.split}: reconstruction mse {test['mse']:.5f}, mae {test['mae']:.5f}"
        if context.augment is not None:
            noisy = context.collect(augment=context.augment)
            noisy_error = noisy.out - noisy.targets.view_as(noisy.out)
            test["noisy_mse"] = float(noisy_error.pow(2).mean())
            test["noisy_input_mse"] = float((noisy.inputs - noisy.targets).pow(2).mean())
            line += (
                f"; from noisy inputs mse {test['noisy_mse']:.5f} "
                f"(the noisy inputs themselves: {test['noisy_input_mse']:.5f})"
            )
        context.log(f"{line} on {test['examples']} examples")
        pictures(context)
        return test


def pictures(context: TestContext) -> None:
    """reconstructions.png and (with a second output) codes.png, drawn with the best epoch's
    weights on held-out data (the validation split, else the test split)."""
    held_out = context.splits.val if context.splits.val is not None else context.dataset
    epoch = f"epoch {context.best_epoch}" if context.best_epoch else "final weights"
    with with_weights(context.module, context.best):
        few = held_out.subset(np.arange(min(GRID_SAMPLES, len(held_out))))
        clean = context.collect(few)
        rows = [("input", clean.targets.numpy()), ("output", clean.out.numpy())]
        if context.augment is not None:
            noisy = context.collect(few, augment=context.augment)
            rows = [
                ("input", clean.targets.numpy()),
                ("noisy", noisy.inputs.numpy()),
                ("output", noisy.out.numpy()),
            ]
        images = [(label, as_images(values)) for label, values in rows]
        if all(image is not None for _, image in images):
            low, high = float(clean.targets.min()), float(clean.targets.max())
            plot_image_rows(
                context.run_dir / "reconstructions.png",
                images,  # type: ignore[arg-type]
                title=f"{context.model}: held-out reconstructions ({epoch})",
                low=low,
                high=high,
            )
            context.log(f"pictures: {context.run_dir / 'reconstructions.png'}")
        coded = context.collect(held_out)
    if len(coded.outputs) > 1:
        name = context.output_names[1] if len(context.output_names) > 1 else "code"
        labels = held_out.labels
        how = plot_codes(
            context.run_dir / "codes.png",
            coded.outputs[1].numpy(),
            None if labels is None or labels.ndim != 1 else labels,
            context.splits.classes,
            title=f"{context.model}: `{name}` of {len(held_out)} held-out samples ({epoch})",
        )
        context.log(f"pictures: {context.run_dir / 'codes.png'} ({how} of `{name}`)")


TASK = Reconstruction()
