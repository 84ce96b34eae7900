"""Training: ir.Graph + `train` section -> trained torch weights in a run directory.

config (TrainSpec -> TrainConfig, no torch) -> loop.fit (module + data -> run directory);
run.train_file chains the compiler, the data sources, the torch backend and fit.
May import everything below it (diagnostics to export); nothing of runtime, serve or commands.
"""
