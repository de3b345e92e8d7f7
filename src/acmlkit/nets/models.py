"""The notebook's CNN and MLP, an MLP of the CNN's size, and a config that sizes them.

Models are plain :class:`torch.nn.Module`s taking ``(n, C, H, W)`` float tensors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from acmlkit.validation import check_choice, check_int

ARCHITECTURES = ("cnn", "mlp", "mlp-matched")
ARCH_HELP = {
    "cnn": "the notebook's LeNet-style CNN (62,006 parameters on 3x32x32)",
    "mlp": "the notebook's MLP, 128-64 hidden units (402,250 parameters on 3x32x32)",
    "mlp-matched": "an MLP with the CNN's parameter count (61,780 on 3x32x32)",
}
# The CNN's designed input; smaller images are upscaled to it (see cnn_input_size).
CNN_DESIGN_SIZE = 32


@dataclass(frozen=True)
class NetConfig:
    """What a model needs to be rebuilt: architecture and input/output shapes.

    The defaults (3 x 32 x 32 images, 10 classes) give exactly the notebook's
    networks: 62,006 parameters for the CNN and 402,250 for the MLP.
    ``mlp-matched`` sizes its hidden layers (``h``, ``h // 2``) so that its
    parameter count is the nearest to the CNN's for the same shapes.
    """

    arch: str = "cnn"
    in_channels: int = 3
    height: int = 32
    width: int = 32
    n_classes: int = 10

    def __post_init__(self):
        check_choice(self.arch, "arch", ARCHITECTURES)
        check_int(self.in_channels, "in_channels", low=1)
        check_int(self.height, "height", low=1)
        check_int(self.width, "width", low=1)
        check_int(self.n_classes, "n_classes", low=2)
        if self.arch == "cnn":
            h, w = _cnn_feature_size(self.height), _cnn_feature_size(self.width)
            if h < 1 or w < 1:
                raise ValueError(
                    "the CNN needs images of at least 16 x 16 pixels (two 5 x 5 convolutions "
                    f"and two 2 x 2 poolings), got {self.height} x {self.width}; "
                    "cnn_input_size gives the size to upscale them to"
                )

    def describe(self) -> str:
        return (
            f"{self.arch.upper()} for {self.in_channels}x{self.height}x{self.width} images, "
            f"{self.n_classes} classes"
        )

    def to_dict(self) -> dict:
        return asdict(self)


def _cnn_feature_size(n: int) -> int:
    # conv k5 (no padding), pool 2, conv k5, pool 2.
    return ((n - 4) // 2 - 4) // 2


def cnn_input_size(height: int, width: int) -> tuple[int, int]:
    """The image size the CNN is given for ``height x width`` images.

    The images' own size where the CNN takes it (at least 16 x 16), else the
    designed 32 x 32 in each too-small dimension: two 5 x 5 convolutions leave no
    pixels of smaller images.
    """
    return tuple(n if _cnn_feature_size(n) >= 1 else CNN_DESIGN_SIZE for n in (height, width))


def mlp_hidden_sizes(config: NetConfig) -> tuple[int, int]:
    """Hidden layer widths of ``config``'s MLP: (128, 64), or matched to the CNN's size."""
    if config.arch != "mlp-matched":
        return 128, 64
    h, w = cnn_input_size(config.height, config.width)
    cnn = _n_cnn_parameters(config.in_channels, h, w, config.n_classes)
    inputs, k = config.in_channels * config.height * config.width, config.n_classes

    def size(h1: int) -> int:
        h2 = max(1, h1 // 2)
        return inputs * h1 + h1 + h1 * h2 + h2 + h2 * k + k

    best = min(range(1, 1025), key=lambda h1: abs(size(h1) - cnn))
    return best, max(1, best // 2)


def _n_cnn_parameters(c: int, h: int, w: int, k: int) -> int:
    flat = 16 * _cnn_feature_size(h) * _cnn_feature_size(w)
    return (c * 25 * 6 + 6) + (6 * 25 * 16 + 16) + (flat * 120 + 120) + (120 * 84 + 84) + (
        84 * k + k
    )


class CNN(nn.Module):
    """conv(C->6, 5) - maxpool 2 - conv(6->16, 5) - maxpool 2 - fc 120 - fc 84 - fc K.

    Input shape ``(n, C, H, W)``; output logits ``(n, K)``.
    """

    def __init__(self, config: NetConfig):
        super().__init__()
        self.conv1 = nn.Conv2d(config.in_channels, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        flat = 16 * _cnn_feature_size(config.height) * _cnn_feature_size(config.width)
        self.fc1 = nn.Linear(flat, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, config.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # relu(pool(.)) is exactly the notebook's pool(relu(.)) (max and relu commute,
        # gradients included) with the relu on a quarter of the values.
        x = F.relu(self.pool(self.conv1(x)))
        x = F.relu(self.pool(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class MLP(nn.Module):
    """fc(C*H*W -> h1) - fc h2 - fc K on the flattened ``(C, H, W)`` image.

    ``(h1, h2)`` is (128, 64) for the notebook's MLP (see :func:`mlp_hidden_sizes`).
    Input shape ``(n, C, H, W)``; output logits ``(n, K)``.
    """

    def __init__(self, config: NetConfig):
        super().__init__()
        h1, h2 = mlp_hidden_sizes(config)
        self.fc1 = nn.Linear(config.in_channels * config.height * config.width, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, config.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def whiten_first_conv_(
    model: CNN, images: torch.Tensor, *, eps: float = 1e-2, chunk: int = 250
) -> CNN:
    """Start ``model.conv1`` as whitening filters of the images' patches, in place.

    Filter ``i`` is the ``i``-th principal component of the ``k x k`` patches of
    ``images`` (normalised, shape ``(n, C, H, W)``) divided by the square root of its
    variance plus ``eps``, so each filter responds with about unit variance to the
    strongest structure in the data; biases centre the responses on zero over
    ``images``. A data-dependent start
    of the first layer (as in ZCA/patch-whitening initialisations) that spares the
    optimiser the steps it would spend finding those directions itself.
    """
    conv = model.conv1
    dim = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
    if conv.out_channels > dim:
        raise ValueError(f"conv1 has {conv.out_channels} filters but its patches only {dim} dims")
    with torch.no_grad():
        # Accumulated in float64 over chunks: all patches at once would take
        # n * H' * W' * dim floats (over 1 GB for 5,000 CIFAR images).
        gram = torch.zeros(dim, dim, dtype=torch.float64)
        total = torch.zeros(dim, dtype=torch.float64)
        count = 0
        for start in range(0, len(images), chunk):
            patches = F.unfold(images[start : start + chunk], conv.kernel_size)
            patches = patches.transpose(1, 2).reshape(-1, dim).double()
            gram += patches.T @ patches
            total += patches.sum(0)
            count += len(patches)
        mean = total / count
        cov = gram / count - torch.outer(mean, mean)
        variances, vectors = torch.linalg.eigh(cov)  # ascending
        top = torch.arange(dim - 1, dim - 1 - conv.out_channels, -1)
        filters = vectors[:, top] / torch.sqrt(variances[top].clamp(min=0) + eps)
        conv.weight.copy_(filters.T.reshape(conv.weight.shape))
        conv.bias.copy_(-(filters.T @ mean))
    return model


def build_model(config: NetConfig) -> nn.Module:
    """A freshly initialised network for ``config`` (initialisation uses torch's global RNG)."""
    return CNN(config) if config.arch == "cnn" else MLP(config)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(total, trainable)`` numbers of scalar parameters."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable
