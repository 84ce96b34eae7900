"""Export: a trained run or checkpoint -> a self-describing ONNX file; foreign checkpoints in.

Owns: `ship` (run directory or checkpoint -> ONNX with class names, preprocessing and
provenance in its metadata) and `weights_import` (a torchvision/PyTorch state_dict -> a netlang
checkpoint, key by key against the IR). May import diagnostics, ir, semantics and backends;
torch only lazily, inside the functions that read `.pth` files.
"""
