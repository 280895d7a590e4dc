"""The resumable state of a training run (core.embedder_training, core.refiner_training): the model, its best and
averaged weights, the optimizer, the schedule and the random generator in one safetensors file with JSON metadata,
written atomically; nothing is pickled. A run stops on SIGTERM/SIGINT or after a number of steps, saving the state,
and the same command continues it exactly."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

from core.checkpoint import load_tensors, read_metadata, save_tensors
from core.cli_checks import positive_float, positive_int
from core.stop_signal import StopSignal

STATE_FILE = "train_state.safetensors"
UNFINISHED = 75  # the exit status of a run stopped before its end (EX_TEMPFAIL: run it again to continue)


@dataclass
class TrainingProgress:
    """Where a run is: the phase ("warm" or "finetune"; the refiner has one, "refine"), the steps done in it, and the best
    validation MSE so far."""

    phase: str = "warm"
    step: int = 0
    elapsed_seconds: float = 0.0
    best_mse: float | None = None
    log: dict = field(default_factory=dict)


def save_state(path: Path, settings: dict, progress: TrainingProgress, model: nn.Module, optimizer: torch.optim.Optimizer | None,
               scheduler, best_state: dict[str, torch.Tensor] | None, averaged_state: dict[str, torch.Tensor] | None = None,
               scores: torch.Tensor | None = None) -> None:
    """The run's state, in one atomic write; without an optimizer between the phases. `model.config` (a
    dataclass) is stored as the metadata's "embedder", from which a resumed run rebuilds the model."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"best.{k}": v for k, v in (best_state or {}).items()})
    tensors.update({f"ema.{k}": v for k, v in (averaged_state or {}).items()})
    if scores is not None:  # --finetune-focus: each training image's last-seen loss
        tensors["scores"] = scores
    optimizer_state = optimizer.state_dict() if optimizer is not None else {"state": {}, "param_groups": None}
    for index, state in optimizer_state["state"].items():
        tensors.update({f"optim.{index}.{name}": torch.as_tensor(value) for name, value in state.items()})
    tensors["rng"] = torch.get_rng_state()  # the batches drawn next
    meta = {"settings": settings, "embedder": asdict(model.config), "progress": asdict(progress),
            "param_groups": optimizer_state["param_groups"],
            "scheduler": scheduler.state_dict() if scheduler is not None else None}
    save_tensors(path, tensors, {"state": json.dumps(meta)})


def load_state(path: Path, settings: dict) -> tuple[TrainingProgress, dict, dict[str, torch.Tensor]]:
    """(progress, stored metadata, tensors) of a saved run; refuses a run made with other settings."""
    stored = read_metadata(path).get("state")
    if stored is None:
        raise ValueError(f"{path} is not a training state of this program; move it away or use another --out")
    meta = json.loads(stored)
    if meta["settings"] != settings:
        changed = sorted(k for k in set(settings) | set(meta["settings"]) if settings.get(k) != meta["settings"].get(k))
        raise ValueError(f"{path} holds an unfinished run with other settings ({', '.join(changed)}): "
                         "run the same command to continue it, or use another --out")
    return TrainingProgress(**meta["progress"]), meta, load_tensors(path)


def restore_optimizer(optimizer: torch.optim.Optimizer, scheduler, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
    """The random generator, and the optimizer and schedule where the state has them."""
    torch.set_rng_state(tensors["rng"])
    if meta["scheduler"] is None:  # saved between the phases: this phase starts fresh
        return
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    scheduler.load_state_dict(meta["scheduler"])


def prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


class TrainingRun(StopSignal):
    """When to save (every `save_every_minutes`) and when to stop (`max_steps` in all, or SIGTERM/SIGINT)."""

    def __init__(self, max_steps: int | None, save_every_minutes: float, earlier_seconds: float = 0.0):
        super().__init__()
        self.max_steps, self.save_every = max_steps, 60 * save_every_minutes
        self.started = self.last_save = time.time()
        self.earlier_seconds = earlier_seconds  # trained by the runs this one continues

    def seconds(self) -> float:
        """Seconds trained in all, the runs this one continues included."""
        return self.earlier_seconds + time.time() - self.started

    def minutes(self) -> float:
        return round(self.seconds() / 60, 2)

    def should_stop(self, steps_done: int) -> bool:
        return self.requested or (self.max_steps is not None and steps_done >= self.max_steps)

    def time_to_save(self) -> bool:
        if time.time() - self.last_save < self.save_every:
            return False
        self.last_save = time.time()
        return True


def resume_or_start(state_path: Path, settings: dict, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler,
                    fresh: TrainingProgress) -> tuple[TrainingProgress, dict[str, torch.Tensor] | None]:
    """(progress, best weights so far) of the run saved at `state_path`, restored into `model`, `optimizer` and `scheduler`
    (a run made with other settings is refused); `fresh` and no best weights when there is none."""
    if not state_path.is_file():
        return fresh, None
    progress, meta, tensors = load_state(state_path, settings)
    model.load_state_dict(prefixed(tensors, "model."))
    restore_optimizer(optimizer, scheduler, meta, tensors)
    tqdm.write(f"resumed {state_path.parent}: step {progress.step} ({progress.elapsed_seconds / 60:.1f} min trained)")
    return progress, prefixed(tensors, "best.") or None


def run_steps(run: TrainingRun, progress: TrainingProgress, steps: int, loss: Callable[[], torch.Tensor],
              optimizer: torch.optim.Optimizer, scheduler, bar: tqdm, validate_every: int, validate: Callable[[], None],
              save: Callable[[], None]) -> bool:
    """Optimizer steps on `loss()` until `progress.step` reaches `steps`, validating every `validate_every` steps and at
    the end, saving when `run` says it is time; False if the run was asked to stop first (its state saved)."""
    while progress.step < steps:
        if run.should_stop(progress.step):
            save()
            if run.requested:
                tqdm.write("signal received: the state is saved")
            return False
        value = loss()
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        scheduler.step()
        progress.step += 1
        bar.update(1)
        bar.set_postfix(mse=f"{value.item():.4f}")
        if progress.step % validate_every == 0 or progress.step == steps:
            validate()
        if run.time_to_save():
            save()
    return True


def weights_if_best(progress: TrainingProgress, score: float, model: nn.Module, log: dict, run: TrainingRun,
                    **measured) -> dict[str, torch.Tensor] | None:
    """A copy of `model`'s weights if `score` (lower is better) beats the best so far, recording it in `progress` and
    the step, `measured` and the minutes trained in `log`; None otherwise."""
    if progress.best_mse is not None and score >= progress.best_mse:
        return None
    progress.best_mse = score
    log.update(best_step=progress.step, **measured, total_minutes=run.minutes())
    return {k: v.clone() for k, v in model.state_dict().items()}


def add_run_arguments(parser: argparse.ArgumentParser, counted: str = "steps") -> None:
    """--max-steps and --save-every-minutes, the options of every resumable training; `counted` says which steps count."""
    parser.add_argument("--max-steps", type=positive_int, default=None,
                        help=f"stop once this many {counted} are done (counting earlier runs), saving a state that the command "
                             f"without --max-steps (or with a larger one) continues; exit status {UNFINISHED}")
    parser.add_argument("--save-every-minutes", type=positive_float, default=5.0,
                        help=f"how often to save the resumable state (out/{STATE_FILE}; deleted when the run finishes)")
