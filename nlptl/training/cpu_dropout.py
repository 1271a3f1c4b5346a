"""Dropout with masks from a fast generator, for training on CPU.

`nn.Dropout` on CPU draws its mask with `bernoulli_` from torch's Mersenne Twister, one draw per element:
about 1.4 ms for a 32 x 16 x 384 activation on a 2-core EPYC, and a BERT layer has two such dropouts (plus one
on the embeddings), 11% of a bf16 SST-2 training step under the profiler. Here each mask comes from numpy's
PCG64 (`random_raw`: 64 random bits per draw, four 16-bit samples), seeded by one draw from torch's generator,
so runs stay reproducible and a resumed run continues exactly (torch's RNG state is in every checkpoint). A
sample is uniform over the 65,536 signed 16-bit values; the mask drops the lowest round(p * 65536) of them, so
the drop rate is p to within 1/131072, and kept values are scaled by the inverse of the keep rate, as
`nn.Dropout` does. Measured 3.3x faster than `F.dropout` for that activation. GPUs keep `nn.Dropout` (their
generator is fast), and so do rates 16 bits cannot hold.
"""

from __future__ import annotations

import numpy as np
import torch

LEVELS = 65536  # 16-bit samples


class FastDropout(torch.nn.Dropout):
    """`nn.Dropout` with the mask drawn from PCG64 on CPU (same rate and scaling); elsewhere `nn.Dropout`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        cut = round(self.p * LEVELS)
        if x.device.type != "cpu" or not 0 < cut < LEVELS or self.inplace:  # rates 16 bits cannot hold: nn.Dropout
            return super().forward(x)
        seed = int(torch.randint(0, 2**62, (1,)).item())
        samples = np.random.PCG64(seed).random_raw((x.numel() + 3) // 4).view(np.int16)[:x.numel()]
        keep = torch.from_numpy(samples).view(x.shape) >= cut - LEVELS // 2
        return x * (keep.to(x.dtype) * (LEVELS / (LEVELS - cut)))


def use_fast_dropout(model: torch.nn.Module) -> int:
    """Swap every plain `nn.Dropout` of `model` for `FastDropout` (same p); returns how many were swapped."""
    swapped = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is torch.nn.Dropout:
                setattr(module, name, FastDropout(child.p))
                swapped += 1
    return swapped
