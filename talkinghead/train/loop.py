"""The training loop every trainer shares: one process or DDP under torchrun, accumulation, checkpoints, resume, log.

``torchrun --nproc-per-node N`` runs N processes (NCCL on GPUs, Gloo on CPUs), each drawing its share of every epoch
through a DistributedSampler. The checkpoint (``output``) holds the model's config and weights (what
:func:`talkinghead.models.weights.load_model` reads) plus the optimizer state, step, epoch and training config; when
it exists training resumes from it. Every optimizer step appends ``step,loss,<metrics>`` to ``<output stem>.log.csv``.
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from talkinghead.config import option
from talkinghead.errors import InputError
from talkinghead.io.video import atomic_output
from talkinghead.models.weights import load_model
from talkinghead.progress import Progress

LossFn = Callable[[nn.Module, list[torch.Tensor]], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class TrainConfig:
    """How a model is trained (each trainer sets its own defaults)."""

    batch_size: int = option(64, "samples per optimizer step, all processes")
    micro_batch: int = option(64, "samples per forward pass (gradients accumulate)")
    lr: float = option(1e-3, "AdamW learning rate")
    weight_decay: float = option(0.01, "AdamW weight decay")
    max_grad_norm: float = option(1.0, "gradient norm clip")
    steps: int = option(2000, "optimizer steps to train to (a resumed run continues to it)")
    checkpoint_every: int = option(500, "steps between checkpoints")
    num_workers: int = option(0, "data loader processes per training process")
    seed: int = option(0, "seed of the initial weights and of the sampling")
    init: str | None = option(None, "start from this checkpoint's weights (fine-tuning; same architecture)",
                              metavar="FILE")

    @property
    def model(self) -> Any:
        """The architecture part: the model config that a trainer's config inherits beside this one, made of its
        same-named fields."""
        architecture = next(c for c in type(self).__mro__ if is_dataclass(c) and not issubclass(c, TrainConfig))
        return architecture(**{f.name: getattr(self, f.name) for f in fields(architecture)})


def distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins the process group when torchrun started several processes."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    device = torch.device(f"cuda:{os.environ.get('LOCAL_RANK', 0)}" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return (dist.get_rank() if world > 1 else 0), world, device


def _batches(loader: DataLoader, epoch: int) -> Iterator[tuple[int, list[torch.Tensor]]]:
    """(epoch, batch) forever, a new epoch (reshuffled, new draws) each time the loader runs out."""
    while True:
        loader.sampler.set_epoch(epoch)
        loader.dataset.epoch = epoch
        for batch in loader:
            yield epoch, batch
        epoch += 1


def fit(model: nn.Module, data: Dataset, loss_fn: LossFn, output: str | Path, config: TrainConfig,
        progress: Progress | None = None) -> dict:
    """Train ``model`` (which has a dataclass ``config``) on ``data`` to ``config.steps``, checkpointing to ``output``.

    ``loss_fn(net, batch)`` returns the batch's mean loss and its metrics (batch means); the summary holds the
    last step's values.
    """
    start_time = time.perf_counter()
    output = Path(output)
    if not output.parent.is_dir():
        raise InputError(output, "output folder does not exist")
    rank, world, device = distributed()
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if output.exists():
        first_step, epoch = _resume(output, model, optimizer)
    else:
        first_step, epoch = 0, 0
        if config.init:
            model.load_state_dict(load_model(type(model), config.init).state_dict())
    net = DistributedDataParallel(model) if world > 1 else model
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=config.seed)
    loader = DataLoader(data, batch_size=config.micro_batch, sampler=sampler, num_workers=config.num_workers,
                        pin_memory=device.type == "cuda", drop_last=len(data) >= config.micro_batch * world)
    accumulation = max(1, config.batch_size // (config.micro_batch * world))
    log = output.with_name(output.stem + ".log.csv")
    stream = _batches(loader, epoch)
    steps = range(first_step, config.steps)
    values: dict[str, float] = {}
    model.train()
    for step in progress(steps, len(steps)) if progress and rank == 0 else steps:
        totals: dict[str, float] = {}
        count = 0
        for k in range(accumulation):
            epoch, batch = next(stream)
            batch = [b.to(device) for b in batch]
            with net.no_sync() if world > 1 and k < accumulation - 1 else nullcontext():
                loss, metrics = loss_fn(net, batch)
                (loss / accumulation).backward()
            n = len(batch[0])
            for name, value in {"loss": loss.item(), **metrics}.items():
                totals[name] = totals.get(name, 0.0) + float(value) * n
            count += n
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sums = torch.tensor([*totals.values(), count], dtype=torch.float64, device=device)
        if world > 1:
            dist.all_reduce(sums)
        values = dict(zip(totals, (sums[:-1] / sums[-1]).tolist()))
        if rank == 0:
            if step == first_step:
                _start_log(log, first_step, list(values))
            with open(log, "a") as f:
                f.write(",".join([str(step + 1), *(f"{v:.6f}" for v in values.values())]) + "\n")
            if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
                save_checkpoint(output, model, optimizer, step + 1, epoch + 1, config)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    model.eval()
    return {"output": str(output), "steps": config.steps, "resumed_from": first_step, **values,
            "samples": len(data), "seconds": round(time.perf_counter() - start_time, 3)}


def _resume(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, int]:
    """Load the weights and optimizer state saved in ``path``; returns the (step, epoch) to go on from."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        saved = state["config"]
    except Exception as exc:  # torch.load raises many kinds on foreign or damaged files
        raise InputError(path, f"not a checkpoint ({type(exc).__name__}); choose another output") from None
    if saved != asdict(model.config):
        raise InputError(path, "holds a model of another architecture; choose another output to start afresh")
    if "optimizer" not in state:
        raise InputError(path, "holds a model without its training state; choose another output")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return state["step"], state["epoch"]


def _start_log(path: Path, step: int, names: list[str]) -> None:
    """Begin the CSV log, or keep its rows up to ``step`` (later ones were never checkpointed and are redone)."""
    rows = path.read_text().splitlines()[1:] if path.exists() else []
    kept = [row for row in rows if int(row.split(",")[0]) <= step]
    path.write_text("".join(f"{row}\n" for row in [",".join(["step", *names]), *kept]))


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None, step: int, epoch: int,
                    config: TrainConfig) -> None:
    """Write the model config and weights, optimizer, step, next epoch and training config atomically to ``path``."""
    state = {"config": asdict(model.config), "model": model.state_dict(), "step": step, "epoch": epoch,
             "train": asdict(config)}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    with atomic_output(path) as tmp:
        torch.save(state, tmp)
