"""The detector's network (torch; used by training and the ONNX export only).

A small CenterNet ("Objects as Points", Zhou et al. 2019) trained from scratch: a plain
convolutional backbone down to stride 32, a light top-down neck back to stride 8, and one
shared head predicting per cell a score per class (the object's centre), the box's width
and height and the centre's offset within the cell. Street events are large in the frame,
so stride 8 is fine-grained enough, and the whole model has about a million parameters:
it trains on two CPU cores in well under an hour.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

STRIDE = 8
WIDTHS = (16, 32, 64, 128, 160)
NECK = 64


def conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class FrameNet(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        w = WIDTHS
        self.stem = nn.Sequential(conv_bn(3, w[0], 2), conv_bn(w[0], w[1], 2), conv_bn(w[1], w[1]))  # /4
        self.s8 = nn.Sequential(conv_bn(w[1], w[2], 2), conv_bn(w[2], w[2]))
        self.s16 = nn.Sequential(conv_bn(w[2], w[3], 2), conv_bn(w[3], w[3]))
        self.s32 = nn.Sequential(conv_bn(w[3], w[4], 2), conv_bn(w[4], w[4]), conv_bn(w[4], w[4]))
        self.lat32 = nn.Conv2d(w[4], NECK, 1)
        self.lat16 = nn.Conv2d(w[3], NECK, 1)
        self.lat8 = nn.Conv2d(w[2], NECK, 1)
        self.smooth16 = conv_bn(NECK, NECK)
        self.smooth8 = conv_bn(NECK, NECK)
        self.head = conv_bn(NECK, NECK)
        self.out = nn.Conv2d(NECK, num_classes + 4, 1)
        # Centres are rare among cells: start every score near 0.1 (the CenterNet prior).
        nn.init.constant_(self.out.bias, 0.0)
        with torch.no_grad():
            self.out.bias[:num_classes] = -2.19
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs (N, C+4, H/8, W/8): class logits, log size (in strides), offset logits."""
        f8 = self.s8(self.stem(x))
        f16 = self.s16(f8)
        f32 = self.s32(f16)
        p = self.lat32(f32)
        p = self.smooth16(self.lat16(f16) + F.interpolate(p, scale_factor=2.0, mode="nearest"))
        p = self.smooth8(self.lat8(f8) + F.interpolate(p, scale_factor=2.0, mode="nearest"))
        return self.out(self.head(p))


class ExportedFrameNet(nn.Module):
    """The network with its outputs in the model folder's contract: heatmap scores kept only
    at 3×3 local maxima, sizes in input pixels, offsets in 0..1."""

    def __init__(self, net: FrameNet):
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor):
        raw = self.net(images)
        c = self.net.num_classes
        heat = torch.sigmoid(raw[:, :c])
        peaks = (F.max_pool2d(heat, 3, stride=1, padding=1) == heat).to(heat.dtype)
        size = torch.exp(raw[:, c : c + 2].clamp(max=6.0)) * STRIDE
        offset = torch.sigmoid(raw[:, c + 2 : c + 4])
        return heat * peaks, size, offset
