"""Data-parallel training on torch.distributed: torchrun's environment -> a World that the loop
asks to shard data, wrap the module in DistributedDataParallel and reduce metrics across ranks.

Two ways in, one engine. `netlang train FILE --nproc N` calls `launch`, which starts N workers on
this host through torchrun's own elastic launcher (torch.distributed.run); `torchrun --nnodes ...
-m netlang train FILE` starts them itself, for multi-node jobs. Either way each worker finds
RANK / WORLD_SIZE / LOCAL_RANK in its environment, and `joined` turns them into a process group
(NCCL on CUDA, gloo on CPU) and a World.

The `batch` of a train section is the global batch: each of the W ranks trains on batch / W
samples per step, rank r taking every W-th index of the epoch's shuffled order, and DDP averages
the W gradients, so a step sees the same samples and the same mean gradient as one process would.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

if TYPE_CHECKING:
    from netlang.data import Dataset
    from netlang.train.evaluate import Evaluation

# Summed across ranks at the end of an epoch; "seconds" takes the slowest rank's.
SUMMED = ("loss", "correct", "counted", "samples")


class WorkerFailed(RuntimeError):
    """A worker of a distributed job died or raised; the message names it and says how to resume."""


@dataclass(frozen=True, slots=True)
class World:
    """This process's place in the job; World() is a lone process, for which every method is a
    no-op, so the loop calls them unconditionally."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 prints, writes the run directory and reads it back on --resume."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def device(self, device: torch.device) -> torch.device:
        """Each worker on a host takes the GPU of its local rank."""
        if self.distributed and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def local_batch(self, batch: int) -> int:
        if batch % self.size:
            raise ValueError(
                f"batch {batch} is the global batch and must split evenly across "
                f"{self.size} processes: use a multiple of {self.size}"
            )
        return batch // self.size

    def describe_batch(self, batch: int) -> str:
        return f"batch {batch} = {self.size} ranks x {self.local_batch(batch)}"

    def wrap(self, module: torch.nn.Module, device: torch.device, sync_bn: bool) -> torch.nn.Module:
        """The module that training steps call: DDP around `module` (whose batch norms become
        synchronised first when `sync_bn`); `module` itself for a lone process."""
        if not self.distributed:
            return module
        from torch.nn.parallel import DistributedDataParallel

        if sync_bn:
            sync_batch_norm(module, device)
        return DistributedDataParallel(
            module,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=_outputs(module) != 1,
        )

    def shard(self, dataset: Dataset) -> Dataset:
        """Rank r's every-W-th sample, for evaluation (views, no copy)."""
        from netlang.data import Dataset

        if not self.distributed:
            return dataset
        return Dataset(dataset.x[self.rank :: self.size], dataset.y[self.rank :: self.size])

    def reduce_sums(self, sums: dict[str, float]) -> dict[str, float]:
        """An epoch's running sums over all ranks (the slowest rank's seconds)."""
        if not self.distributed:
            return sums
        total = self._all_reduce([sums[k] for k in SUMMED])
        slowest = self._all_reduce([sums["seconds"]], op="max")[0]
        return {**dict(zip(SUMMED, total)), "seconds": slowest}

    def reduce_evaluation(self, result: Evaluation) -> tuple[float, float | None]:
        """(mean loss, metric) over all ranks' shards from each rank's own Evaluation."""
        if not self.distributed:
            return result.loss, result.metric
        summed = (result.metric or 0.0) * result.counted
        loss, seen, summed, counted = self._all_reduce(
            [result.loss * result.seen, result.seen, summed, result.counted]
        )
        return loss / max(seen, 1), summed / counted if counted else None

    def any(self, flag: bool) -> bool:
        """True on every rank when it is True on one (a Ctrl-C seen by one rank stops all)."""
        if not self.distributed:
            return flag
        return bool(self._all_reduce([float(flag)], op="max")[0])

    def broadcast(self, value: Any) -> Any:
        """Rank 0's `value` on every rank: tensors and plain data, sent as torch.save bytes and
        read back with weights_only=True (no pickled objects cross the wire)."""
        if not self.distributed:
            return value
        sent = _to_bytes(value) if self.is_main else None
        size = self._tensor([0 if sent is None else sent.numel()], torch.int64)
        dist.broadcast(size, src=0)
        payload = self._bytes(int(size)) if sent is None else sent.to(size.device)
        dist.broadcast(payload, src=0)
        return _from_bytes(payload)

    def gather(self, value: Any) -> list[Any]:
        """Every rank's `value`, in rank order, on every rank (as `broadcast` sends them)."""
        payload = _to_bytes(value)
        sizes = [self._tensor([0], torch.int64) for _ in range(self.size)]
        dist.all_gather(sizes, self._tensor([payload.numel()], torch.int64))
        longest = max(int(size) for size in sizes)
        padded = torch.cat([payload, payload.new_zeros(longest - payload.numel())])
        parts = [self._bytes(longest) for _ in range(self.size)]
        dist.all_gather(parts, padded.to(parts[0].device))
        return [_from_bytes(part[: int(size)]) for part, size in zip(parts, sizes)]

    def sync_buffers(self, module: torch.nn.Module) -> None:
        """Rank 0's buffers (batch-norm running statistics) on every rank: DDP sends them before
        each forward, so after an epoch's last step they differ until this runs."""
        if not self.distributed:
            return
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)

    def checkpoint_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """The resume state rank 0 saves: sums over all ranks, and every rank's RNG state."""
        if not self.distributed:
            return state
        return {
            **state,
            "sums": self.reduce_sums(state["sums"]),
            "rank_rng": self.gather(state["rng"]),
        }

    def adopt_state(self, state: dict[str, Any], seed: int) -> dict[str, Any]:
        """This rank's share of a saved state: its own RNG state (when the saved job had another
        size, rank 0 takes the saved one and the others seed + rank), and the epoch's sums on
        rank 0 only, so that summing them stays right."""
        if not self.distributed:
            return state
        rngs = state.get("rank_rng")
        if rngs is not None and len(rngs) == self.size:
            rng = rngs[self.rank]
        elif self.is_main:
            rng = state["rng"]
        else:
            rng = {"torch": torch.Generator().manual_seed(seed + self.rank).get_state()}
        sums = state["sums"] if self.is_main else {k: 0.0 for k in state["sums"]}
        return {**state, "rng": rng, "sums": {**sums, "seconds": state["sums"]["seconds"]}}

    def _all_reduce(self, values: Sequence[float], op: str = "sum") -> list[float]:
        tensor = self._tensor(values, torch.float64)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
        return tensor.tolist()

    def _tensor(self, values: Sequence[float], dtype: torch.dtype) -> torch.Tensor:
        """A tensor where the backend's collectives run (the GPU for NCCL)."""
        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        return torch.tensor(values, dtype=dtype, device=device)

    def _bytes(self, count: int) -> torch.Tensor:
        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        return torch.empty(count, dtype=torch.uint8, device=device)


def _to_bytes(value: Any) -> torch.Tensor:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)


def _from_bytes(payload: torch.Tensor) -> Any:
    return torch.load(
        io.BytesIO(payload.cpu().numpy().tobytes()), weights_only=True, map_location="cpu"
    )


def _outputs(module: torch.nn.Module) -> int:
    """How many outputs an fx module returns (training uses the first; DDP must then look for
    parameters that received no gradient); 0 when unknown."""
    graph = getattr(module, "graph", None)
    if graph is None:
        return 0
    value = graph.output_node().args[0]
    return len(value) if isinstance(value, (tuple, list)) else 1


def world_from_env() -> World:
    """The World that torchrun's environment variables describe (a lone process without them)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


@contextlib.contextmanager
def joined(device: str) -> Iterator[World]:
    """Join the job's process group for the duration (NCCL when training on CUDA, else gloo)."""
    world = world_from_env()
    if not world.distributed:
        yield world
        return
    cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield world
        dist.barrier()  # leave together: gloo aborts a process that quits while peers still talk
    finally:
        dist.destroy_process_group()


# --- synchronised batch norm ---------------------------------------------------------------------


def sync_batch_norm(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Make the batch norms of `module` (in place) normalise with the statistics of the global
    batch: torch's SyncBatchNorm on GPUs, an all-reduce over gloo on CPU (where it has none)."""
    if device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        setattr(module, name, sync_batch_norm(child, device))
    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and not isinstance(
        module, (torch.nn.SyncBatchNorm, _GlobalBatchNorm)
    ):
        return _GlobalBatchNorm.replacing(module)
    return module


class _GlobalBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are the global batch's: per-channel sums are
    all-reduced with the autograd-aware all_reduce, so gradients flow across ranks too (the
    backward is one all-reduce of the sums' gradients, as torch's SyncBatchNorm does on GPUs)."""

    @classmethod
    def replacing(cls, old: torch.nn.modules.batchnorm._BatchNorm) -> _GlobalBatchNorm:
        new = cls(old.num_features, old.eps, old.momentum, old.affine, old.track_running_stats)
        if old.affine:
            new.weight, new.bias = old.weight, old.bias
        new.running_mean, new.running_var = old.running_mean, old.running_var
        new.num_batches_tracked = old.num_batches_tracked
        new.train(old.training)
        return new

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = (1, x.shape[1]) + (1,) * (x.dim() - 2)
        # one all-reduce (and one in backward) of sum, sum of squares and count, in float64
        wide = torch.float64
        count = torch.full((1,), x.numel() // x.shape[1], dtype=wide, device=x.device)
        sums = _summed(
            torch.cat([x.sum(dims, dtype=wide), x.square().sum(dims, dtype=wide), count])
        )
        channels, total = x.shape[1], sums[-1]
        mean = sums[:channels] / total
        var = (sums[channels:-1] / total - mean.square()).clamp(min=0)
        scale = torch.rsqrt(var + self.eps).to(x.dtype)
        out = (x - mean.to(x.dtype).view(shape)) * scale.view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            unbiased = var.detach() * total / (total - 1).clamp(min=1)
            self._update_running(mean.detach().to(x.dtype), unbiased.to(x.dtype))
        return out

    @torch.no_grad()
    def _update_running(self, mean: torch.Tensor, unbiased: torch.Tensor) -> None:
        """As torch's batch norm: an exponential average, or the cumulative one (momentum None)."""
        assert self.num_batches_tracked is not None and self.running_var is not None
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.mul_(1 - factor).add_(mean, alpha=factor)
        self.running_var.mul_(1 - factor).add_(unbiased, alpha=factor)


def _summed(tensor: torch.Tensor) -> torch.Tensor:
    """The sum over ranks; its gradient is the sum of the ranks' gradients (autograd-aware)."""
    from torch.distributed import _functional_collectives as collectives

    return collectives.all_reduce(tensor, "sum", dist.group.WORLD)


# --- launching workers on this host --------------------------------------------------------------


def launch(worker_args: Sequence[str], nproc: int, run_dir: str, *, resume_hint: str) -> None:
    """Run `python -m netlang <worker_args>` in `nproc` workers on this host through torchrun's
    elastic launcher (static rendezvous on 127.0.0.1, a free port, no restarts).

    Each worker's stderr is also kept in a temporary folder, so that the failure message can
    quote the last lines of the first worker to die (for a signal such as SIGABRT, the C++
    error that raised it: the signal alone does not say why).

    Raises:
        WorkerFailed: a worker died or failed; the message names the first to go and what it
            said last, and says that the last checkpoint in `run_dir` is intact and how to resume.
        KeyboardInterrupt: Ctrl-C (the workers finish their step and save a checkpoint).
    """
    with tempfile.TemporaryDirectory(prefix="netlang-workers-") as logs:
        _launch(worker_args, nproc, run_dir, resume_hint, Path(logs))


def _launch(
    worker_args: Sequence[str], nproc: int, run_dir: str, resume_hint: str, logs: Path
) -> None:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import elastic_launch
    from torch.distributed.run import config_from_args, parse_args

    args = parse_args(
        [
            "--nnodes",
            "1",
            "--nproc-per-node",
            str(nproc),
            "--max-restarts",
            "0",
            "--rdzv-backend",
            "static",
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(free_port()),
            "--local-addr",
            "127.0.0.1",
            "--log-dir",
            str(logs),
            "--tee",
            "2",
            "--module",
            "netlang",
            *worker_args,
        ]
    )
    os.environ.setdefault("GLOO_SOCKET_IFNAME", _loopback_interface())
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    config, command, command_args = config_from_args(args)
    try:
        elastic_launch(config, command)(*command_args)
    except ChildFailedError as error:
        rank, failure = error.get_first_failure()
        said = _last_words(logs, failure.local_rank)
        raise WorkerFailed(
            f"worker rank {rank} (pid {failure.pid}) failed: {_cause(failure)}"
            + (f"; its last words: {said}" if said else "")
            + f"; the job stopped. The last checkpoint in {run_dir} is intact: continue with "
            f"{resume_hint}"
        ) from None
    except SignalException:
        raise KeyboardInterrupt from None


def _last_words(logs: Path, local_rank: int, lines: int = 3) -> str:
    """The last non-empty lines a worker wrote to stderr (torchrun keeps them under `logs`)."""
    text = "".join(
        f.read_text(errors="replace", encoding="utf-8")
        for f in sorted(logs.rglob(f"{local_rank}/stderr.log"))
    )
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(line[:300] for line in kept)


def _cause(failure: Any) -> str:
    if failure.exitcode < 0:
        return f"killed by signal {failure.signal_name()}"
    message = failure.message if "pytorch.org" not in failure.message else ""
    return f"exit code {failure.exitcode}" + (f" ({message})" if message else "")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _loopback_interface() -> str:
    """The loopback network interface (gloo binds to it, so a one-host job stays on 127.0.0.1)."""
    names = [name for _, name in socket.if_nameindex()]
    return next((name for name in names if name.startswith("lo")), "lo")
