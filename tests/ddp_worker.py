"""Run by tests/test_training.py under `torchrun --nproc_per_node 2`: a few DDP steps, then each
rank writes its own replica's weights so the test can compare them."""

import sys

import torch.distributed as dist
from safetensors.torch import save_file

from core.training import TrainConfig, Trainer

out = sys.argv[1]
trainer = Trainer(TrainConfig(dataset="digits", preset="tiny", out=out, batch_size=32, max_steps=4, val_images=50, sample_seeds=4))
trainer.fit()
save_file({k: v.contiguous() for k, v in trainer.generator.unet.state_dict().items()}, f"{out}/rank{trainer.rank}.safetensors")
# as core.training.train does: rank 1 tearing the group down while rank 0 still saved its state aborted rank 1
# once in CI ("terminate called without an active exception", SIGABRT)
dist.barrier()
dist.destroy_process_group()
