"""Training the denoiser: AdamW, EMA with warm-up, L1 (article) or MSE noise loss, bf16 autocast,
resumable state, optional DistributedDataParallel (gloo on CPU, nccl on GPU). With `distill_from`,
the objective is step distillation from a teacher generator instead (core/step_distillation.py).

Run with `python -m core.train` (one process) or `torchrun --nproc_per_node N -m core.train`.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.distributed as dist
from tqdm import tqdm

from core.atomic import save_image, write_json
from core.checkpoint import load_generator, load_tensors, read_metadata, save_generator, save_tensors
from core.data import channel_stats, load_dataset
from core.generator import DiffusionGenerator
from core.images import make_grid
from core.schedule import diffusion_schedule
from core.seeds import seeded_noise
from core.step_distillation import distillation_loss
from core.stop_signal import StopSignal
from core.unet import get_preset

STATE_WEIGHTS = "train_state.safetensors"
STATE_JSON = "train_state.json"
VALIDATION_BINS = 5  # validation loss is reported per noise-level bin of t


@dataclass
class TrainConfig:
    dataset: str = "fashion"  # fashion | digits | folder
    data_path: str | None = None  # IDX folder (fashion) or image folder (folder)
    preset: str = "fashion"  # UNet preset (core.unet.PRESETS)
    out: str = "runs/fashion"  # run folder: state, EMA checkpoint, samples, log
    epochs: int = 20
    batch_size: int = 128  # global batch, split across DDP ranks
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200  # linear learning-rate warm-up
    lr_schedule: Literal["constant", "cosine"] = "constant"  # cosine: decay to min_lr over all epochs
    min_lr: float = 1e-5  # end of the cosine decay
    loss: Literal["l1", "mse"] = "l1"  # the article uses L1 (MAE) on the noise
    ema_decay: float = 0.999  # with warm-up min(decay, (1 + step) / (10 + step))
    bf16: bool = False  # bfloat16 autocast for the forward pass
    seed: int = 0
    max_steps: int | None = None  # stop after this many optimizer steps (tests, smoke runs)
    max_minutes: float | None = None  # stop (and save) after this much training time in this call
    save_every_minutes: float = 10.0  # also save the resumable state mid-epoch
    val_images: int = 2000  # test images for the validation loss
    sample_seeds: int = 64  # grid of seeds 0..n-1 each epoch
    init_from: str | None = None  # start a new run from a generator checkpoint's weights (e.g. assets/fashion)
    distill_from: str | None = None  # teacher checkpoint: step distillation instead of the noise loss
    distill_steps: int = 10  # the sampler grid the student is distilled for (G's default S)
    distill_substeps: int = 4  # teacher DDIM steps per student step
    distill_weighting: Literal["noise", "state"] = "noise"  # loss per step: noise-space MSE or where the step lands


def ema_decay_at(step: int, max_decay: float) -> float:
    return min(max_decay, (1.0 + step) / (10.0 + step))


def diffusion_loss(
    unet: torch.nn.Module, images: torch.Tensor, times: torch.Tensor, noises: torch.Tensor, kind: str
) -> torch.Tensor:
    """Per-image noise-prediction loss: images, noises (N, C, H, W), times (N,) -> (N,)."""
    noise_rates, signal_rates = diffusion_schedule(times.reshape(-1, 1, 1, 1))
    noisy_images = signal_rates * images + noise_rates * noises
    pred_noises = unet(noisy_images, noise_rates.reshape(-1) ** 2).float()
    error = (pred_noises - noises).abs() if kind == "l1" else (pred_noises - noises) ** 2
    return error.mean(dim=(1, 2, 3))


def validation_kind(training: dict) -> str:
    """The validation noise loss of a run from its checkpoint summary: a distilled student is measured
    in MSE, as its teacher's loss and E[eps | x_t] ask; otherwise the training loss."""
    return "mse" if "distillation" in training else training["loss"]


@torch.no_grad()
def validation_losses(generator: DiffusionGenerator, images: torch.Tensor, kind: str, batch: int = 500) -> dict:
    """Loss on fixed (t, eps) draws over normalized test images, overall and per t-bin."""
    rng = torch.Generator().manual_seed(1234)
    times = torch.rand(len(images), generator=rng).to(images.device)
    noises = torch.randn(images.shape, generator=rng).to(images.device)
    losses = torch.cat([
        diffusion_loss(generator.unet, images[i : i + batch], times[i : i + batch], noises[i : i + batch], kind)
        for i in range(0, len(images), batch)
    ])
    bins = (times * VALIDATION_BINS).long().clamp(max=VALIDATION_BINS - 1)
    per_bin = {f"t{b / VALIDATION_BINS:.1f}-{(b + 1) / VALIDATION_BINS:.1f}": losses[bins == b].mean().item()
               for b in range(VALIDATION_BINS) if (bins == b).any()}
    return {"val_loss": losses.mean().item(), "val_loss_by_t": per_bin}


class Trainer:
    def __init__(self, config: TrainConfig):
        if config.epochs < 1:  # nothing would be trained and no checkpoint written
            raise ValueError(f"epochs must be at least 1, got {config.epochs}")
        self.config = config
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.distributed = self.world_size > 1
        if self.distributed and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        self.rank = dist.get_rank() if self.distributed else 0
        self.is_main = self.rank == 0
        if self.distributed:  # share the cores between the local processes
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", self.world_size))))
        self.device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.out = Path(config.out)
        self.stop_signal = StopSignal()  # SIGTERM / Ctrl-C during fit(): save the state, then stop

        unet_config = get_preset(config.preset)
        train_images, _ = load_dataset(config.dataset, "train", config.data_path, unet_config.image_size, unet_config.channels)
        test_images, _ = load_dataset(config.dataset, "test", config.data_path, unet_config.image_size, unet_config.channels)
        expected = (unet_config.channels, unet_config.image_size, unet_config.image_size)
        if tuple(train_images.shape[1:]) != expected:
            raise ValueError(f"dataset {config.dataset!r} gives images {tuple(train_images.shape[1:])}, preset {config.preset!r} expects {expected}")
        if len(train_images) < config.batch_size or config.batch_size < self.world_size:
            raise ValueError(f"batch size {config.batch_size} needs at least that many training images (have {len(train_images)}) "
                             f"and at least one image per process ({self.world_size})")
        mean, std = channel_stats(train_images)
        torch.manual_seed(config.seed)  # identical initial weights on every rank
        self.generator = DiffusionGenerator(unet_config, mean, std).to(self.device)
        self.ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.train_images = self.generator.normalize(train_images.to(self.device))
        self.val_images = self.generator.normalize(test_images[: config.val_images].to(self.device))
        self.optimizer = torch.optim.AdamW(self.generator.unet.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.noise_rng = torch.Generator(device=self.device).manual_seed(config.seed * 1000 + self.rank)
        self.epoch, self.step_in_epoch, self.global_step, self.train_seconds = 0, 0, 0, 0.0
        self.schedule_offset = 0  # added to the step for the EMA decay (continued runs start it high)
        self.teacher = self._load_teacher(config.distill_from, mean, std) if config.distill_from else None
        init_from = config.init_from or config.distill_from  # a student starts as its teacher unless told otherwise
        if init_from and not (self.out / STATE_WEIGHTS).is_file():
            self._initialise_from(init_from)
        self._resume_if_possible()
        self.unet = self.generator.unet
        if self.distributed:
            self.unet = torch.nn.parallel.DistributedDataParallel(self.generator.unet)

    # ---- resumable state (safetensors + JSON; nothing is pickled) ----
    def _state_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {f"model.{k}": v for k, v in self.generator.state_dict().items()}
        tensors.update({f"ema.{k}": v for k, v in self.ema.state_dict().items()})
        for index, state in self.optimizer.state_dict()["state"].items():
            for name, value in state.items():
                tensors[f"optim.{index}.{name}"] = torch.as_tensor(value)
        tensors["noise_rng"] = self.noise_rng.get_state()
        return tensors

    def save_state(self) -> None:
        if not self.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        meta = {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
                "schedule_offset": self.schedule_offset, "train_seconds": self.train_seconds, "config": asdict(self.config)}
        # The counters travel inside the weights file, so one atomic rename saves a consistent state;
        # train_state.json is a readable copy.
        save_tensors(self.out / STATE_WEIGHTS, self._state_tensors(), {"state": json.dumps(meta)})
        write_json(self.out / STATE_JSON, meta)
        save_generator(self.ema, self.out / "ema", {"training": self._summary()})

    def _resume_if_possible(self) -> None:
        weights_path = self.out / STATE_WEIGHTS
        if not weights_path.is_file():
            return
        stored = read_metadata(weights_path).get("state")
        meta = json.loads(stored) if stored else json.loads((self.out / STATE_JSON).read_text())
        if meta["config"]["preset"] != self.config.preset or meta["config"]["dataset"] != self.config.dataset:
            raise ValueError(f"{self.out} holds a run of preset {meta['config']['preset']!r} on {meta['config']['dataset']!r}; use another --out")
        tensors = load_tensors(self.out / STATE_WEIGHTS)
        self.generator.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        self.ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
        optim_state = self.optimizer.state_dict()
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, index, name = key.split(".", 2)
                optim_state["state"].setdefault(int(index), {})[name] = value
        self.optimizer.load_state_dict(optim_state)
        if self.world_size == 1:
            self.noise_rng.set_state(tensors["noise_rng"])
        else:  # only rank 0's generator state is saved: give every rank fresh, distinct noise
            self.noise_rng.manual_seed(self.config.seed * 1000 + self.rank + 7919 * meta["global_step"])
        self.schedule_offset = meta.get("schedule_offset", 0)
        self.epoch, self.step_in_epoch = meta["epoch"], meta["step_in_epoch"]
        self.global_step, self.train_seconds = meta["global_step"], meta["train_seconds"]
        if self.is_main:
            print(f"resumed {self.out} at epoch {self.epoch}, step {self.global_step} ({self.train_seconds / 60:.1f} min trained)")

    def _initialise_from(self, checkpoint: str) -> None:
        """Copy a shipped generator's (EMA) weights into the model and the EMA; fresh optimizer."""
        source = load_generator(checkpoint)
        if source.config != self.generator.config:
            raise ValueError(f"--init-from {checkpoint} has UNet config {source.config}, preset {self.config.preset!r} is {self.generator.config}")
        self.generator.unet.load_state_dict(source.unet.state_dict())
        self.ema.unet.load_state_dict(source.unet.state_dict())
        # EMA decay starts high; the learning rate still warms up, since the fresh AdamW's first steps
        # (about lr on every weight, whatever its gradient) undid measurably much of the shipped model.
        self.schedule_offset = self.config.warmup_steps
        if self.is_main:
            print(f"initialised from {checkpoint}")

    def _load_teacher(self, checkpoint: str, mean: list[float], std: list[float]) -> DiffusionGenerator:
        teacher = load_generator(checkpoint).to(self.device).eval().requires_grad_(False)
        if teacher.config != self.generator.config:
            raise ValueError(f"--distill-from {checkpoint} has UNet config {teacher.config}, preset {self.config.preset!r} is {self.generator.config}")
        if not (torch.allclose(teacher.mean.flatten().cpu(), torch.tensor(mean), atol=1e-4)
                and torch.allclose(teacher.std.flatten().cpu(), torch.tensor(std), atol=1e-4)):
            raise ValueError(f"--distill-from {checkpoint} was trained with another normalization "
                             f"(mean {teacher.mean.flatten().tolist()}, std {teacher.std.flatten().tolist()}) than {self.config.dataset!r} "
                             f"(mean {mean}, std {std}): it is a generator of other data")
        if self.is_main:
            print(f"step distillation from {checkpoint}: {self.config.distill_substeps} teacher steps per student step, "
                  f"{self.config.distill_steps}-step grid")
        return teacher

    def _summary(self) -> dict:
        summary = {"dataset": self.config.dataset, "preset": self.config.preset, "epochs_done": self.epoch,
                   "steps": self.global_step, "train_minutes": round(self.train_seconds / 60, 2),
                   "batch_size": self.config.batch_size, "loss": self.config.loss, "bf16": self.config.bf16}
        if self.config.distill_from:
            summary["loss"] = "step distillation (MSE on the teacher's noise targets)"
            summary["distillation"] = {"teacher": self.config.distill_from, "steps": self.config.distill_steps,
                                       "substeps": self.config.distill_substeps, "weighting": self.config.distill_weighting}
        return summary

    # ---- one epoch ----
    def _epoch_batches(self) -> list[torch.Tensor]:
        """This rank's index batches for the current epoch (same permutation on every rank)."""
        order = torch.randperm(len(self.train_images), generator=torch.Generator().manual_seed(self.config.seed * 100_003 + self.epoch))
        per_rank = self.config.batch_size // self.world_size
        steps = len(order) // self.config.batch_size
        return [order[s * self.config.batch_size :][self.rank * per_rank : (self.rank + 1) * per_rank] for s in range(steps)]

    def _train_step(self, indices: torch.Tensor) -> float:
        images = self.train_images[indices.to(self.device)]
        times = torch.rand(len(images), generator=self.noise_rng, device=self.device)
        noises = torch.randn(images.shape, generator=self.noise_rng, device=self.device)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.bf16):
            if self.teacher is None:
                loss = diffusion_loss(self.unet, images, times, noises, self.config.loss).mean()
            else:
                c = self.config
                step_indices = (times * c.distill_steps).long().clamp(max=c.distill_steps - 1)  # uniform over the grid
                loss = distillation_loss(self.unet, self.teacher.unet, images, noises, step_indices,
                                         c.distill_steps, c.distill_substeps, c.distill_weighting).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        decay = ema_decay_at(self.global_step + self.schedule_offset, self.config.ema_decay)
        with torch.no_grad():
            for ema_param, param in zip(self.ema.unet.parameters(), self.generator.unet.parameters()):
                ema_param.lerp_(param, 1.0 - decay)
        self.global_step += 1
        return loss.item()

    def learning_rate(self) -> float:
        """Linear warm-up, then constant or a cosine decay to min_lr at the last step of the last epoch."""
        c = self.config
        warmup = min(1.0, (self.global_step + 1) / max(1, c.warmup_steps))
        if c.lr_schedule == "constant":
            return c.lr * warmup
        total_steps = c.epochs * (len(self.train_images) // c.batch_size)
        progress = min(1.0, self.global_step / max(1, total_steps))
        return warmup * (c.min_lr + 0.5 * (c.lr - c.min_lr) * (1.0 + math.cos(math.pi * progress)))

    def _should_stop(self, started: float) -> bool:
        c = self.config
        stop = self.stop_signal.requested or (c.max_steps is not None and self.global_step >= c.max_steps) or (
            c.max_minutes is not None and time.time() - started > 60 * c.max_minutes)
        if self.distributed:  # every rank must stop at the same step
            flag = torch.tensor([float(stop)], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            stop = bool(flag.item())
        return stop

    def _end_of_epoch(self, mean_loss: float, epoch_seconds: float, images_seen: int) -> None:
        record = {"epoch": self.epoch, "step": self.global_step, "train_loss": mean_loss, "lr": self.learning_rate(),
                  "images_per_s": images_seen / max(epoch_seconds, 1e-9), "train_minutes": self.train_seconds / 60}
        if self.is_main:
            kind = validation_kind(self._summary())
            record.update(validation_losses(self.ema, self.val_images, kind), val_kind=kind)  # which loss val_loss measures
            seeds = list(range(self.config.sample_seeds))
            with torch.no_grad():
                samples = self.ema.generate(seeded_noise(seeds, self.ema.image_shape, self.device))
            save_image(self.out / "samples" / f"epoch_{self.epoch:03d}.png", make_grid(samples, scale=2))
            # every epoch's EMA weights, kept: the validation loss does not track sample quality
            # (benchmarks.quality_trend measures the Frechet distance of each and picks the one to ship)
            save_generator(self.ema, self.out / "epochs" / f"epoch_{self.epoch:03d}", {"training": self._summary()})
            with open(self.out / "log.jsonl", "a") as log:
                log.write(json.dumps(record) + "\n")
            tqdm.write(json.dumps(record))

    def fit(self) -> Path:
        """Train until `epochs` (or a stop condition); returns the EMA checkpoint folder."""
        c = self.config
        started = time.time()
        with self.stop_signal:
            while self.epoch < c.epochs:
                batches = self._epoch_batches()
                progress = tqdm(total=len(batches), initial=self.step_in_epoch, desc=f"epoch {self.epoch + 1}/{c.epochs}",
                                disable=not self.is_main, dynamic_ncols=True)
                losses, epoch_start, last_save = [], time.time(), time.time()
                while self.step_in_epoch < len(batches):
                    if self._should_stop(started):
                        if self.stop_signal.requested and self.is_main:
                            tqdm.write("signal received: the state is saved; the same command continues")
                        self.save_state()
                        progress.close()
                        return self.out / "ema"
                    step_start = time.time()
                    losses.append(self._train_step(batches[self.step_in_epoch]))
                    self.step_in_epoch += 1
                    self.train_seconds += time.time() - step_start
                    progress.update(1)
                    progress.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.4f}")
                    if time.time() - last_save > 60 * c.save_every_minutes:
                        self.save_state()
                        last_save = time.time()
                progress.close()
                self.epoch, self.step_in_epoch = self.epoch + 1, 0
                self._end_of_epoch(sum(losses) / max(1, len(losses)), time.time() - epoch_start, len(losses) * c.batch_size)
                self.save_state()
        if not (self.out / "ema" / "config.json").is_file():  # e.g. a finished state without its export: never report a missing checkpoint
            self.save_state()
        return self.out / "ema"


def train(config: TrainConfig) -> Path:
    trainer = Trainer(config)
    try:
        result = trainer.fit()
        if trainer.distributed:
            dist.barrier()  # leave together: a rank that tears the group down while rank 0 still saves can abort in gloo
        return result
    finally:
        if trainer.distributed and dist.is_initialized():
            dist.destroy_process_group()
