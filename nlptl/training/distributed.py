"""The process group, as accelerate sees it.

`accelerate launch --multi_gpu --num_processes N` (torchrun underneath) on a machine without GPUs starts N
processes, but accelerate then treats each as a lone process unless told to use the CPU. Forcing CPU in that
case gives real DDP over gloo, so the same launch command works with and without GPUs.
"""

from __future__ import annotations

import os

import torch
from accelerate import PartialState


def launched_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def force_cpu() -> bool:
    return launched_distributed() and not torch.cuda.is_available()


def partial_state() -> PartialState:
    return PartialState(cpu=True) if force_cpu() else PartialState()
