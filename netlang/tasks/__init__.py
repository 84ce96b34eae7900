"""Tasks: what a model is trained to do, one module each (classification, reconstruction,
regression, sequence). A task owns its target selection, default loss, per-epoch metric, test
report (console lines, test.json fields) and pictures; the trainer asks `settle` which task a run
is (the train section's `task`, or inferred from the data's targets: netlang.train.state.settle)
and calls it at each step.

Layer: after data and export, before train. The modules import torch lazily or at their top;
`netlang check` never imports this package (its shape rules live in netlang.semantics.tasks).
"""

from __future__ import annotations

from netlang.tasks.registry import TASK_MODULES, get_task, infer_task

__all__ = ["TASK_MODULES", "get_task", "infer_task"]
