"""Registry of models the frontend can export, with seeded weights and inputs.

Add a model by calling `register(ModelSpec(...))` below; nothing else needs to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

# ATen op (post run_decompositions) the "unsupported_op" model exists to exercise.
UNSUPPORTED_OP_TARGET = "aten.cumsum.default"

InputFn = Callable[[torch.Generator], "tuple[Tensor, ...]"]


def randn_inputs(*shapes: tuple[int, ...]) -> InputFn:
    """Input factory producing one float32 N(0,1) tensor per shape."""
    def make(gen: torch.Generator) -> tuple[Tensor, ...]:
        return tuple(torch.randn(s, generator=gen, dtype=torch.float32) for s in shapes)
    return make


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[[], nn.Module]
    input_fn: InputFn
    description: str = ""

    def build(self) -> nn.Module:
        """Construct the model in eval mode with weights drawn after manual_seed(0)."""
        torch.manual_seed(0)
        with torch.no_grad():
            model = self.builder()
        return model.eval()

    def example_inputs(self, seed: int = 0) -> tuple[Tensor, ...]:
        """Seeded example inputs; a private generator leaves global RNG state alone."""
        return self.input_fn(torch.Generator().manual_seed(seed))


MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in MODELS:
        raise ValueError(f"model {spec.name!r} registered twice")
    MODELS[spec.name] = spec
    return spec


def get(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None


# --- builders --------------------------------------------------------------------

def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10), nn.Softmax(dim=-1))


def _small_cnn() -> nn.Module:
    bn = nn.BatchNorm2d(16)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        bn,
        nn.ReLU(),
        nn.MaxPool2d(2),                             # 32x32 -> 16x16
        nn.Conv2d(16, 32, 3, stride=2, padding=1),   # 16x16 -> 8x8
        nn.ReLU(),
        nn.AvgPool2d(2),                             # 8x8 -> 4x4
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )
    # Default BN state (mean 0, var 1, gamma 1, beta 0) is nearly the identity, which
    # would let a broken BN lowering pass. Draw everything from the seeded global RNG.
    bn.running_mean.copy_(torch.randn(16) * 0.5)
    bn.running_var.copy_(torch.rand(16) * 1.5 + 0.5)
    bn.weight.copy_(torch.rand(16) + 0.5)
    bn.bias.copy_(torch.randn(16) * 0.2)
    return model


def _resnet18() -> nn.Module:
    import torchvision  # deferred: only this model needs it and it is slow to import

    return torchvision.models.resnet18(weights=None)


class _Unsupported(nn.Module):
    """cumsum has no lowering in Kiln; used to test the compiler's error path."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.cumsum(x, dim=-1) + 1


register(ModelSpec("mlp", _mlp, randn_inputs((4, 64)), "Linear-ReLU-Linear-softmax"))
register(ModelSpec("small_cnn", _small_cnn, randn_inputs((2, 3, 32, 32)),
                   "conv-BN-relu-maxpool-conv(s2)-relu-avgpool-linear"))
register(ModelSpec("resnet18", _resnet18, randn_inputs((1, 3, 224, 224)),
                   "torchvision resnet18, random weights"))
register(ModelSpec("unsupported_op", _Unsupported, randn_inputs((2, 8)),
                   f"contains {UNSUPPORTED_OP_TARGET}"))
