"""Registry of models the frontend can export, with seeded weights and inputs.

Add a model by calling `register(ModelSpec(...))` below; nothing else needs to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

# ATen op (post run_decompositions) the "unsupported_op" model exists to exercise.
UNSUPPORTED_OP_TARGET = "aten._cdist_forward.default"

InputFn = Callable[[torch.Generator], "tuple[Tensor, ...]"]


def randn_inputs(*shapes: tuple[int, ...], dtype: torch.dtype = torch.float32) -> InputFn:
    """Input factory producing one N(0,1) tensor of `dtype` per shape."""
    def make(gen: torch.Generator) -> tuple[Tensor, ...]:
        return tuple(torch.randn(s, generator=gen, dtype=torch.float32).to(dtype) for s in shapes)
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


def calibrate_batch_norm(model: nn.Module, input_shape: tuple[int, ...], batch: int = 2) -> nn.Module:
    """Sets every BatchNorm's running statistics to those of one seeded random batch.

    With freshly initialised statistics (mean 0, var 1) deep random-weight networks shrink their
    activations towards zero layer by layer (EfficientNet's logits end near 1e-20), which makes an
    accuracy comparison meaningless. Measured statistics keep activations O(1), as in a trained model.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one batch gives exactly its statistics
    gen = torch.Generator().manual_seed(1234)
    model.train()
    with torch.no_grad():
        model(torch.randn((batch, *input_shape[1:]), generator=gen))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    return model.eval()


def _torchvision(name: str) -> Callable[[], nn.Module]:
    """Builder for a torchvision classifier with random weights (nothing is downloaded)."""
    def build() -> nn.Module:
        import torchvision  # deferred: only these models need it and it is slow to import

        model = getattr(torchvision.models, name)(weights=None)
        return calibrate_batch_norm(redraw_zero_weights(model), (1, 3, 224, 224))
    return build


def redraw_zero_weights(model: nn.Module, std: float = 0.02) -> nn.Module:
    """Redraws weight matrices that an architecture initialises to zero (ViT's classifier head, say).

    A zero head makes every output 0 in PyTorch and on the device alike, so a comparison would pass
    whatever the device computed. Only parameters of rank 2 or more that are exactly zero are touched.
    """
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2 and p.numel() > 0 and not p.any():
                p.normal_(0.0, std)
    return model


class _TokenClassifier(nn.Module):
    """Token ids (int64) in, per-token logits and their argmax (int64) out: an embedding lookup of
    runtime indices, a learned position table, layer norm, a GELU MLP and a classifier head."""

    def __init__(self, vocab: int = 100, seq: int = 8, dim: int = 32, classes: int = 10) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(seq, dim)
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, classes)

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        x = x + self.mlp(self.norm(x))
        logits = self.head(x)
        return logits, logits.argmax(-1)


def token_ids(shape: tuple[int, ...], vocab: int) -> InputFn:
    """Input factory producing one int64 tensor of ids uniform in [0, vocab)."""
    def make(gen: torch.Generator) -> tuple[Tensor, ...]:
        return (torch.randint(0, vocab, shape, generator=gen, dtype=torch.int64),)
    return make


class _InPlaceInput(nn.Module):
    """Scales its input in place (x.mul_(2)), then returns x + 1: the program returns the input's new
    value as a second output, named after the input."""

    def forward(self, x: Tensor) -> Tensor:
        x.mul_(2)
        return x + 1


class _Unsupported(nn.Module):
    """cdist has no lowering in Kiln yet; used to test the compiler's error path."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.cdist(x, x) + 1


class _TinyAttention(nn.Module):
    """One pre-norm causal self-attention block: RMSNorm (pow, mean, rsqrt), a fused QKV projection
    split in three (split_with_sizes), rotary position embeddings (arange, sin, cos), a causal mask
    built from arange/le and applied with where, and learned positions looked up by embedding."""

    def __init__(self, seq: int = 8, dim: int = 32, heads: int = 2) -> None:
        super().__init__()
        self.heads, self.dim = heads, dim
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.pos = nn.Embedding(seq, dim)
        self.norm_weight = nn.Parameter(torch.rand(dim) + 0.5)

    def forward(self, x: Tensor) -> Tensor:
        b, t, d = x.shape
        hd = d // self.heads
        x = x + self.pos(torch.arange(t))
        h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.norm_weight
        q, k, v = self.qkv(h).split(d, dim=-1)
        q, k, v = (z.view(b, t, self.heads, hd).transpose(1, 2) for z in (q, k, v))
        # Rotary embedding on the two halves of each head.
        inv_freq = 1.0 / (10000 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        angles = torch.arange(t, dtype=torch.float32)[:, None] * inv_freq[None, :]
        cos, sin = angles.cos().repeat(1, 2), angles.sin().repeat(1, 2)

        def rotate(z: Tensor) -> Tensor:
            z1, z2 = z.chunk(2, dim=-1)
            return z * cos + torch.cat((-z2, z1), dim=-1) * sin

        q, k = rotate(q), rotate(k)
        scores = q @ k.transpose(-2, -1) / hd ** 0.5
        i = torch.arange(t)
        causal = i[None, :] <= i[:, None]
        scores = torch.where(causal, scores, torch.full_like(scores, float("-inf")))
        y = torch.softmax(scores, dim=-1) @ v
        return x + self.out(y.transpose(1, 2).reshape(b, t, d))


register(ModelSpec("mlp", _mlp, randn_inputs((4, 64)), "Linear-ReLU-Linear-softmax"))
# The same MLP in half, bfloat16 and double precision: weights, inputs and outputs of that dtype
# (the DMA converts; the device computes in float32, and the compiler warns about float64).
register(ModelSpec("mlp_fp16", lambda: _mlp().half(), randn_inputs((4, 64), dtype=torch.float16),
                   "Linear-ReLU-Linear-softmax in float16"))
register(ModelSpec("mlp_bf16", lambda: _mlp().bfloat16(), randn_inputs((4, 64), dtype=torch.bfloat16),
                   "Linear-ReLU-Linear-softmax in bfloat16"))
register(ModelSpec("mlp_fp64", lambda: _mlp().double(), randn_inputs((4, 64), dtype=torch.float64),
                   "Linear-ReLU-Linear-softmax in float64"))
register(ModelSpec("small_cnn", _small_cnn, randn_inputs((2, 3, 32, 32)),
                   "conv-BN-relu-maxpool-conv(s2)-relu-avgpool-linear"))
for _name in ("resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0", "vgg11", "squeezenet1_0",
              "densenet121", "vgg16", "mobilenet_v3_large", "shufflenet_v2_x1_0", "vit_b_16"):
    register(ModelSpec(_name, _torchvision(_name), randn_inputs((1, 3, 224, 224)),
                       f"torchvision {_name}, random weights"))
register(ModelSpec("tiny_attention", _TinyAttention, randn_inputs((2, 8, 32)),
                   "causal self-attention block: RMSNorm, split QKV, rotary, arange/le/where mask"))
register(ModelSpec("token_classifier", _TokenClassifier, token_ids((2, 8), 100),
                   "int64 token ids -> embedding, layer norm, GELU MLP -> logits and int64 argmax"))
register(ModelSpec("inplace_input", _InPlaceInput, randn_inputs((2, 8)),
                   "x.mul_(2); return x + 1: an in-place op on a user input"))
register(ModelSpec("unsupported_op", _Unsupported, randn_inputs((2, 8)),
                   f"contains {UNSUPPORTED_OP_TARGET}"))
