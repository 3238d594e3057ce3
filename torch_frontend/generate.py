"""Greedy generation on the simulated chip with a static KV cache that stays on the device.

    python -m torch_frontend.generate --model gpt2_small --prompt-len 8 --new-tokens 32
    python -m torch_frontend.generate --model gpt2          # the full 124M configuration

Two programs over one KV cache (docs/GENERATION.md). The decode step takes one token id [1, 1] and its
position [1], writes the token's keys and values into the cache (module buffers, which Kiln keeps as
device state between runs), attends over the cache and returns the argmax token id, so only token ids
cross the host link. The prefill is the same module over the P prompt tokens, compiled beside the step
onto its device, sharing its state and its weights (one device copy); with --no-prefill the prompt goes
through the step one token at a time.
The tokens are compared with transformers' own `model.generate(..., do_sample=False)` on the same
weights.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from torch_frontend import models
from torch_frontend.export import pt2_bytes, to_core_aten


class Gpt2DecodeStep(nn.Module):
    """GPT-2 over n new tokens (1: a decoding step; P: the prefill) and a static KV cache, written
    with the model's own modules (layer norms, Conv1D projections, MLP, tied head) so the weights are
    the model's. The cache is one [1, heads, max_len, head_dim] buffer per layer for keys and one for
    values; slot `pos` takes a token's keys and values (index_copy_, an in-place buffer mutation) and
    attention masks the slots after it, so the stale contents of an earlier generation are never read.
    Returns the argmax of the last token's logits, [1, 1]."""

    def __init__(self, model: nn.Module, max_len: int) -> None:
        super().__init__()
        self.model = model
        config = model.config
        self.heads, self.head_dim = config.n_head, config.n_embd // config.n_head
        for i in range(config.n_layer):
            self.register_buffer(f"key_cache_{i}", torch.zeros(1, self.heads, max_len, self.head_dim))
            self.register_buffer(f"value_cache_{i}", torch.zeros(1, self.heads, max_len, self.head_dim))
        self.register_buffer("slots", torch.arange(max_len), persistent=False)

    def forward(self, ids: Tensor, pos: Tensor) -> Tensor:
        t = self.model.transformer
        n = ids.shape[1]  # 1 for a decode step, P for the prefill
        x = t.wte(ids) + t.wpe(pos)[None]
        visible = self.slots[None, :] <= pos[:, None]  # [n, max_len]: the slots each token sees
        width = x.shape[-1]
        for i, block in enumerate(t.h):
            q, k, v = block.attn.c_attn(block.ln_1(x)).split(width, dim=2)
            q, k, v = (z.view(1, n, self.heads, self.head_dim).transpose(1, 2) for z in (q, k, v))
            keys, values = getattr(self, f"key_cache_{i}"), getattr(self, f"value_cache_{i}")
            keys.index_copy_(2, pos, k)
            values.index_copy_(2, pos, v)
            a = F.scaled_dot_product_attention(q, keys, values, attn_mask=visible)
            x = x + block.attn.c_proj(a.transpose(1, 2).reshape(1, n, width))
            x = x + block.mlp(block.ln_2(x))
        return self.model.lm_head(t.ln_f(x[:, -1:])).argmax(-1)  # the last token's next token, [1, 1]


class _SlotCache:
    """What transformers' attention layers call on a cache (update(keys, values, layer) -> the whole
    cache), over a decode step's buffers: the token's keys and values go into slot `pos`."""

    def __init__(self, step: nn.Module, pos: Tensor) -> None:
        self.step, self.pos = step, pos

    def update(self, k: Tensor, v: Tensor, layer: int, *args, **kwargs) -> tuple[Tensor, Tensor]:
        keys, values = getattr(self.step, f"key_cache_{layer}"), getattr(self.step, f"value_cache_{layer}")
        keys.index_copy_(2, self.pos, k)
        values.index_copy_(2, self.pos, v)
        return keys, values


class BloomDecodeStep(nn.Module):
    """Bloom over n new tokens and a static KV cache (as Gpt2DecodeStep): the model's own blocks,
    given a _SlotCache, ALiBi over the cache's slots (softmax is shift-invariant, so slope * slot
    equals transformers' slope * position for the visible slots) and an additive mask hiding the
    slots after each token's position."""

    def __init__(self, model: nn.Module, max_len: int) -> None:
        super().__init__()
        from transformers.models.bloom.modeling_bloom import _get_alibi_slopes

        self.model = model
        config = model.config
        heads, head_dim = config.n_head, config.hidden_size // config.n_head
        for i in range(config.n_layer):
            self.register_buffer(f"key_cache_{i}", torch.zeros(1, heads, max_len, head_dim))
            self.register_buffer(f"value_cache_{i}", torch.zeros(1, heads, max_len, head_dim))
        self.register_buffer("slots", torch.arange(max_len), persistent=False)
        alibi = _get_alibi_slopes(heads, torch.device("cpu"))[:, None, None] * torch.arange(max_len)
        self.register_buffer("alibi", alibi.float(), persistent=False)

    def forward(self, ids: Tensor, pos: Tensor) -> Tensor:
        t = self.model.transformer
        h = t.word_embeddings_layernorm(t.word_embeddings(ids))
        visible = self.slots[None, :] <= pos[:, None]  # [n, max_len]
        hidden = torch.where(visible, 0.0, torch.finfo(torch.float32).min)[None, None]
        cache = _SlotCache(self, pos)
        for block in t.h:
            h = block(h, alibi=self.alibi, attention_mask=hidden, layer_past=cache)[0]
        return self.model.lm_head(t.ln_f(h[:, -1:])).argmax(-1)


class FalconDecodeStep(nn.Module):
    """Falcon over n new tokens and a static KV cache (as BloomDecodeStep): the model's own blocks
    (multi-query attention, parallel attention and MLP) given a _SlotCache, its own rotary embedding at
    the tokens' positions, and a boolean mask hiding the slots after each token's position. The cache
    holds the key/value heads (one for multi-query) after the rotary embedding, as transformers' does."""

    def __init__(self, model: nn.Module, max_len: int) -> None:
        super().__init__()
        self.model = model
        config = model.config
        attention = model.transformer.h[0].self_attention
        kv_heads = attention.num_heads if config.new_decoder_architecture else attention.num_kv_heads
        for i in range(config.num_hidden_layers):
            self.register_buffer(f"key_cache_{i}", torch.zeros(1, kv_heads, max_len, attention.head_dim))
            self.register_buffer(f"value_cache_{i}", torch.zeros(1, kv_heads, max_len, attention.head_dim))
        self.register_buffer("slots", torch.arange(max_len), persistent=False)

    def forward(self, ids: Tensor, pos: Tensor) -> Tensor:
        t = self.model.transformer
        h = t.word_embeddings(ids)
        visible = (self.slots[None, :] <= pos[:, None])[None, None]  # [1, 1, n, max_len]
        rotary = t.rotary_emb(h, position_ids=pos[None])
        cache = _SlotCache(self, pos)
        for block in t.h:
            h = block(h, alibi=None, attention_mask=visible, position_ids=pos[None], layer_past=cache,
                      position_embeddings=rotary)[0]
        return self.model.lm_head(t.ln_f(h[:, -1:])).argmax(-1)


# Generation configurations: name -> (transformers model class, config). The small one is CI's; its
# initialiser range is wide enough that a random model's greedy tokens vary (at GPT-2's 0.02 a tiny
# model repeats one token), so the comparison with PyTorch has something to compare.
CONFIGS = {
    "gpt2_small": ("GPT2LMHeadModel", "GPT2Config",
                   dict(vocab_size=1000, n_positions=128, n_embd=64, n_layer=2, n_head=4,
                        activation_function="gelu_new", bos_token_id=0, eos_token_id=0,
                        initializer_range=0.2)),
    "gpt2": ("GPT2LMHeadModel", "GPT2Config", models.GPT2_CONFIG),
    "bloom_small": ("BloomForCausalLM", "BloomConfig",
                    dict(vocab_size=1000, hidden_size=64, n_layer=2, n_head=4, bos_token_id=1, eos_token_id=2,
                         pad_token_id=3, initializer_range=0.2)),
    "bloom_560m": ("BloomForCausalLM", "BloomConfig", models.BLOOM_560M_CONFIG),
    "falcon_small": ("FalconForCausalLM", "FalconConfig",
                     dict(models.FALCON_7B_CONFIG, vocab_size=1000, hidden_size=64, num_hidden_layers=2,
                          num_attention_heads=4, initializer_range=0.2)),
    # The zoo's falcon: falcon-7b at full width with 2 of its 32 layers (models.FALCON_LAYERS).
    "falcon": ("FalconForCausalLM", "FalconConfig",
               dict(models.FALCON_7B_CONFIG, num_hidden_layers=models.FALCON_LAYERS)),
}
STEP_MODULES = {"GPT2LMHeadModel": Gpt2DecodeStep, "BloomForCausalLM": BloomDecodeStep,
                "FalconForCausalLM": FalconDecodeStep}


def build(name: str, seed: int = 0) -> nn.Module:
    """The causal LM `name` with seeded random weights (transformers' initialiser), in eval mode."""
    import transformers

    model_class, config_class, config = CONFIGS[name]
    torch.manual_seed(seed)
    model = getattr(transformers, model_class)(getattr(transformers, config_class)(**config))
    return model.eval().requires_grad_(False)


def export_step(model: nn.Module, max_len: int, tokens: int = 1, path: str | None = None) -> bytes | str:
    """The program over `tokens` new tokens (1: the decode step; P: the prompt's prefill) in core ATen,
    its caches zero, as .pt2 bytes, or saved at `path` (returned; kiln_ext.compile maps a path rather
    than holding another copy of the weights). Both mutate the same buffers, so they can share one cache."""
    step = STEP_MODULES[type(model).__name__](model, max_len).eval()
    example = (torch.zeros(1, tokens, dtype=torch.long), torch.arange(tokens))
    with torch.no_grad():
        ep = to_core_aten(torch.export.export(step, example))
    if path is None:
        return pt2_bytes(ep)
    torch.export.save(ep, path)
    return path


def reference_tokens(model: nn.Module, prompt: Tensor, new_tokens: int) -> list[int]:
    """transformers' greedy generation (no EOS stop, so it yields exactly `new_tokens`)."""
    with torch.no_grad():
        out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                             min_new_tokens=new_tokens, do_sample=False,
                             pad_token_id=model.config.eos_token_id)
    return out[0, prompt.shape[1]:].tolist()


@dataclass
class Generation:
    tokens: list[int]
    ttft_us: float           # simulated: the prefill (or the P prompt steps), which gives the first token
    decode_us: float         # simulated: the steps after the first token
    step_us: list[float]     # simulated time of every step
    wall_s: float            # host wall time of the whole loop

    @property
    def tokens_per_s(self) -> float:
        """Simulated decode throughput: tokens after the first over the time of their steps."""
        return (len(self.tokens) - 1) / (self.decode_us * 1e-6) if self.decode_us > 0 else float("nan")


def generate(step, prompt: list[int], new_tokens: int, prefill=None) -> Generation:
    """Greedy decoding with the compiled decode-step program `step` (a kiln_ext.Graph): the prompt
    goes through `prefill` (a program over all P prompt tokens sharing the step's cache) or, without
    one, through the step one token at a time; then each step feeds back the token the last chose."""
    step.reset_state()
    p = len(prompt)
    sequence, step_us = list(prompt), []
    start = time.perf_counter()
    if prefill is not None:
        (token,), stats = prefill.run([torch.tensor([prompt]), torch.arange(p)])
        step_us.append(stats["latency_us"])
        sequence.append(int(token))
        first, start_pos = 1, p
    else:
        first, start_pos = p, 0
    for pos in range(start_pos, p + new_tokens - 1):
        (token,), stats = step.run([torch.tensor([[sequence[pos]]]), torch.tensor([pos])])
        step_us.append(stats["latency_us"])
        if pos >= p - 1:
            sequence.append(int(token))
    wall = time.perf_counter() - start
    return Generation(sequence[p:], sum(step_us[:first]), sum(step_us[first:]), step_us, wall)


def run(name: str, prompt_len: int, new_tokens: int, seed: int = 0, chip: str = "", prefill: bool = True,
        log=print) -> dict:
    """Builds, exports, compiles and generates (with a prefill program, or the prompt token by token
    through the step); returns the tokens of both and the timings."""
    from torch_frontend.ext import kiln_ext

    torch.set_num_threads(1)
    model = build(name, seed)
    gen = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, model.config.vocab_size, (1, prompt_len), generator=gen)
    max_len = prompt_len + new_tokens
    # One archive at a time, and archives and programs in files the compiler and runtime map: each
    # holds a copy of the weights, which costs page cache rather than this process's memory. A mapped
    # program stays readable after its file is removed.
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kiln_generate_") as tmp:
        def compile_step(tokens: int, label: str, **kw):
            pt2 = export_step(model, max_len, tokens, path=os.path.join(tmp, f"{label}.pt2"))
            graph = kiln_ext.compile(pt2, name=f"{name}_{label}", kiln_path=os.path.join(tmp, f"{label}.kiln"), **kw)
            os.remove(pt2)
            return graph

        graph = compile_step(1, "step", chip=chip)
        step_bytes = graph.load_stats["device_bytes_in_use"]
        first = compile_step(prompt_len, "prefill", share_from=graph) if prefill else None
    t1 = time.perf_counter()
    both_bytes = (first or graph).load_stats["device_bytes_in_use"]
    log(f"{name}: exported and compiled in {t1 - t0:.1f} s (step {graph.summary['device_ops']} device ops"
        + (f", prefill {first.summary['device_ops']}" if prefill else "") + f", cache length {max_len})")
    log(f"device memory: step {step_bytes / 2**20:.1f} MiB (weights {graph.summary['constant_bytes'] / 2**20:.1f} MiB"
        f" with the cache, arena {graph.summary['arena_bytes'] / 2**20:.1f} MiB)"
        + (f"; with the prefill {both_bytes / 2**20:.1f} MiB (its arena {first.summary['arena_bytes'] / 2**20:.1f} MiB;"
           f" {first.summary['sharing']}; its load uploaded"
           f" {first.load_stats['host_to_device_bytes'] / 2**20:.1f} MiB; loaded alone it would take"
           f" {first.summary['peak_device_bytes'] / 2**20:.1f} MiB)" if prefill else ""))
    ref = reference_tokens(model, prompt, new_tokens)
    out = generate(graph, prompt[0].tolist(), new_tokens, first)
    return {"model": name, "prompt": prompt[0].tolist(), "kiln": out.tokens, "torch": ref,
            "match": out.tokens == ref, "ttft_ms": out.ttft_us / 1e3, "tokens_per_s": out.tokens_per_s,
            "step_ms": out.decode_us / max(len(out.tokens) - 1, 1) / 1e3, "wall_s": out.wall_s,
            "load_us": graph.load_stats["latency_us"], "step_device_bytes": step_bytes,
            "device_bytes": both_bytes, "step_summary": graph.summary,
            "prefill_summary": first.summary if prefill else None,
            "prefill_load": first.load_stats if prefill else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gpt2_small", choices=sorted(CONFIGS))
    parser.add_argument("--prompt-len", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chip", default="", help="chip description JSON (default: the built-in chip)")
    parser.add_argument("--no-prefill", action="store_true",
                        help="feed the prompt through the decode step one token at a time")
    args = parser.parse_args(argv)
    r = run(args.model, args.prompt_len, args.new_tokens, args.seed, args.chip, prefill=not args.no_prefill)
    print(f"prompt:      {r['prompt']}")
    print(f"kiln:        {r['kiln']}")
    print(f"torch:       {r['torch']}")
    print(f"identical:   {r['match']}")
    how = f"{args.prompt_len} prompt steps" if args.no_prefill else f"prefill of {args.prompt_len} tokens"
    print(f"TTFT (sim):  {r['ttft_ms']:.3f} ms ({how})")
    print(f"decode (sim): {r['tokens_per_s']:.1f} tokens/s ({r['step_ms']:.3f} ms per token)")
    print(f"host wall:   {r['wall_s']:.2f} s for the generation loop")
    print(f"device:      {r['device_bytes'] / 2**20:.1f} MiB in use"
          + ("" if args.no_prefill else f" by both programs (the step alone {r['step_device_bytes'] / 2**20:.1f} MiB)"))
    return 0 if r["match"] else 1


if __name__ == "__main__":
    sys.exit(main())
