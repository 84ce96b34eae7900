"""What a `train` section may say: its keys, and for keys that take calls, the calls and their
parameters (positional order). The compiler checks sections against this (strict: unknown keys,
calls and arguments are errors with a suggestion); the trainer interprets the values.
"""

from __future__ import annotations

# key -> {call name -> parameter names}, or a description of the plain value it takes.
CallTable = dict[str, tuple[str, ...]]

DATA: CallTable = {
    "digits": ("size", "split", "flatten", "keep"),
    "mnist": ("root", "size", "split", "download", "limit", "flatten", "keep", "part"),
    "notmnist": ("root", "size", "split", "download", "limit", "flatten", "keep"),
    "cifar10": ("root", "size", "split", "download", "limit", "keep"),
    "idx": ("images", "labels", "size", "split", "classes", "limit", "flatten", "keep"),
    "image_folder": ("root", "size", "split", "channels", "limit"),
    "npz": ("path", "split", "x", "y"),
    "csv": ("path", "split", "label", "header"),
    # detection / segmentation (targets "boxes" or "masks"; see netlang.data.targets)
    "digit_scenes": ("count", "size", "objects", "scale", "split", "target", "max_objects"),
    "voc": ("root", "size", "split", "classes", "channels", "max_objects"),
    "coco": ("annotations", "images", "size", "split", "channels", "target", "max_objects"),
    "text": ("path", "split", "text", "label", "delimiter", "header"),
    "text_folder": ("root", "split"),
}

# Data sources whose targets are class ids, with their class count where it is fixed.
CLASS_SOURCES: dict[str, int | None] = {
    "digits": 10,
    "mnist": 10,
    "notmnist": 10,
    "cifar10": 10,
    "idx": None,
    "image_folder": None,
    "text": None,
    "text_folder": None,
}
SCHEMA: dict[str, CallTable | str] = {
    # what the model is trained to do; inferred from the data's targets when absent
    "task": {
        "classification": (),
        "reconstruction": (),
        "regression": (),
        "sequence": (),
        "segmentation": (),
        "detection": ("score", "iou", "max_per_class"),
    },
    "data": DATA,
    "test_data": DATA,
    "batch": "int",
    "epochs": "int",
    "optimizer": {
        "sgd": ("lr", "momentum", "nesterov", "weight_decay"),
        "adam": ("lr", "betas", "eps", "weight_decay"),
        "adamw": ("lr", "betas", "eps", "weight_decay"),
        "rmsprop": ("lr", "alpha", "eps", "momentum", "weight_decay"),
    },
    "lr": "float",
    "schedule": {
        "none": (),
        "step": ("step_size", "gamma", "warmup"),
        "cosine": ("min_lr", "warmup"),
        "plateau": ("factor", "patience", "monitor", "min_lr", "warmup"),
        "warmup": ("epochs",),
    },
    "loss": {
        "cross_entropy": ("label_smoothing",),
        "nll": (),
        "mse": (),
        "mae": (),
        "huber": ("delta",),
        "bce": (),
        "bce_with_logits": ("pos_weight",),
        "dice": ("ce_weight",),  # segmentation: soft Dice (+ ce_weight x cross-entropy)
        "yolo": ("lambda_coord", "lambda_noobj", "boxes"),  # detection: YOLOv1's loss
    },
    "regularize": {"l1": ("strength",), "l2": ("strength",)},
    "early_stop": {"early_stop": ("monitor", "patience", "min_delta", "mode", "restore_best")},
    "normalize": {"standardize": (), "unit": (), "none": ()},
    # text -> token ids, fitted on the training split (netlang.data.tokenize)
    "tokenize": {
        "words": ("length", "vocab", "min_count", "lower"),
        "bpe": ("length", "vocab", "lower"),
    },
    "augment": {
        "random_crop": ("size", "padding"),
        "hflip": ("p",),
        "rotate": ("degrees",),
        "noise": ("std",),
        "translate": ("pixels",),  # detection/segmentation: shifts boxes or masks too
    },
    "init": {"default": (), "kaiming": (), "xavier": (), "normal": (), "zeros": ()},
    "clip": "float",
    "seed": "int",
    "device": "str",
    "amp": "bool",
    "channels_last": "bool",  # NHWC activations and conv weights (faster convolutions on GPUs)
    "compile": "bool",  # torch.compile the training step's forward
    "classes": "list",
    "val_every": "int",
    "sync_bn": "bool",  # batch norm over the global batch when training on several processes
    "weights": "str",
    "freeze": "list",
    "unfreeze": "list",
    "replace": "list",
    "lr_mult": "dict",
    # `train` is a keyword, so batch-norm layers that keep learning say `bn trainable`.
    "bn": {"frozen": (), "trainable": ()},
}

# Keys that may be written as a bare call entry, `early_stop(patience=5)`.
CALL_ENTRIES = {"early_stop"}

# What a `stage { ... }` may set; everything else holds for the whole run.
STAGE_KEYS = (
    "epochs",
    "optimizer",
    "lr",
    "schedule",
    "freeze",
    "unfreeze",
    "lr_mult",
    "bn",
    "early_stop",
)
