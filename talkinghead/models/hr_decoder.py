"""HyperLips' second stage, the HRDecoder, as a small U-Net fitted to one person.

It sees, in the mouth square (:mod:`talkinghead.render.mouth_crop`): the base face (the reference moved along the mesh
with its mouth painted, what the warp renderer draws), real mouths of the person moved onto the target lips, and the
landmark sketch of the target. It outputs how much of the moved real mouths to keep over the base face and a colour
correction on top: detail is carried in from the person's own frames rather than painted from nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

IN_CHANNELS = 7  # base face (3), moved real mouths (3), sketch (1)


@dataclass
class HRDecoderConfig:
    """Architecture of the decoder."""

    size: int = 128  # side of the mouth square, pixels
    width: int = 16  # channels at full resolution (one convolution in and one out there: it is the costly level)
    depth: int = 3  # halvings of the resolution, each with two convolutions on the way down and two up
    max_width: int = 128  # channels at most, at any depth


def _block(c_in: int, c_out: int) -> nn.Sequential:
    groups = min(8, c_out)
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.GroupNorm(groups, c_out), nn.SiLU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.GroupNorm(groups, c_out), nn.SiLU())


class HRDecoder(nn.Module):
    """(base, moved real mouths, sketch) -> the mouth square, all in 0..1."""

    Config = HRDecoderConfig

    def __init__(self, config: HRDecoderConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or HRDecoderConfig()
        widths = [min(c.width * 2 ** k, c.max_width) for k in range(c.depth + 1)]
        self.inlet = nn.Sequential(nn.Conv2d(IN_CHANNELS, widths[0], 3, padding=1), nn.SiLU())
        self.down = nn.ModuleList(nn.Conv2d(widths[k], widths[k + 1], 4, stride=2, padding=1) for k in range(c.depth))
        self.encode = nn.ModuleList(_block(widths[k + 1], widths[k + 1]) for k in range(c.depth))
        self.up = nn.ModuleList(nn.Conv2d(widths[k + 1], widths[k], 3, padding=1) for k in range(c.depth))
        self.decode = nn.ModuleList(_block(2 * widths[k], widths[k]) if k else
                                    nn.Sequential(nn.Conv2d(2 * widths[0], widths[0], 3, padding=1), nn.SiLU())
                                    for k in range(c.depth))
        self.outlet = nn.Conv2d(widths[0], 4, 3, padding=1)
        nn.init.zeros_(self.outlet.weight)
        with torch.no_grad():  # start from the moved real mouths, no correction
            self.outlet.bias.copy_(torch.tensor([2.0, 0.0, 0.0, 0.0]))

    def forward(self, base: torch.Tensor, real: torch.Tensor, sketch: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S), (B, 3, S, S), (B, 1, S, S) -> (B, 3, S, S)."""
        x = self.inlet(torch.cat([base, real, sketch], 1))
        skips = []
        for down, encode in zip(self.down, self.encode):
            skips.append(x)
            x = encode(down(x))
        for k in reversed(range(self.config.depth)):
            x = self.up[k](F.interpolate(x, scale_factor=2.0, mode="nearest"))
            x = self.decode[k](torch.cat([x, skips[k]], 1))
        out = self.outlet(x)
        keep = torch.sigmoid(out[:, :1])
        return (keep * real + (1 - keep) * base + 0.5 * torch.tanh(out[:, 1:])).clamp(0, 1)
