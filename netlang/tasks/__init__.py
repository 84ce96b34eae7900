"""Tasks other than classification that train on image targets: per-pixel segmentation
(`segmentation`) and box detection (`detection`, YOLOv1 in `yolo`). Each task module holds its
objective, its metrics (from torchmetrics, never hand-written) and its pictures; the trainer
picks the module by the train section's `task` (netlang.train.config)."""
