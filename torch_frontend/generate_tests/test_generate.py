"""Greedy generation on the simulated chip with the KV cache kept on the device (torch_frontend/generate.py):
small GPT-2, Bloom and Falcon configurations give transformers' own greedy tokens, with a prefill program that
shares the decode step's cache and weights on the device and with the prompt fed through the step token
by token."""

import unittest

import torch

from torch_frontend import generate
from torch_frontend.ext import kiln_ext


class GenerateTest(unittest.TestCase):
    def check(self, name: str, prefill: bool = True) -> dict:
        r = generate.run(name, prompt_len=8, new_tokens=32, prefill=prefill, log=lambda *_: None)
        self.assertEqual(len(r["kiln"]), 32)
        self.assertEqual(r["kiln"], r["torch"])
        self.assertGreater(len(set(r["torch"])), 2, "a degenerate model would make the comparison weak")
        self.assertGreater(r["ttft_ms"], 0)
        self.assertGreater(r["tokens_per_s"], 0)
        if prefill:
            self.check_one_copy_of_the_weights(r)
        return r

    def check_one_copy_of_the_weights(self, r: dict) -> None:
        # The prefill uses the step's device copy of the weights (and of the cache): beside the step it
        # adds only its arena and what it does not share, and its load uploads only the latter.
        weights = r["step_summary"]["constant_bytes"]
        added = r["device_bytes"] - r["step_device_bytes"]
        uploaded = r["prefill_load"]["host_to_device_bytes"]
        self.assertLess(uploaded, weights / 50, r["prefill_summary"]["sharing"])
        self.assertLessEqual(added, r["prefill_summary"]["arena_bytes"] + uploaded + 4096)
        self.assertLess(r["device_bytes"], 1.5 * weights + r["step_summary"]["arena_bytes"]
                        + r["prefill_summary"]["arena_bytes"])

    def test_gpt2_small_matches_transformers_generate(self):
        with_prefill = self.check("gpt2_small")
        token_by_token = self.check("gpt2_small", prefill=False)
        # One prefill run over the prompt is faster than P decode steps.
        self.assertLess(with_prefill["ttft_ms"], token_by_token["ttft_ms"] / 2)

    def test_bloom_small_matches_transformers_generate(self):
        self.check("bloom_small")

    def test_falcon_small_matches_transformers_generate(self):
        self.check("falcon_small")

    def test_cache_stays_on_the_device_between_runs_until_reset(self):
        # The same calls on the eager step module and on the compiled program, whose cache lives on
        # the device: each step reads the slots earlier runs wrote, and a reset zeroes them.
        model = generate.build("gpt2_small")
        graph = kiln_ext.compile(generate.export_step(model, max_len=8), name="step")
        eager = generate.Gpt2DecodeStep(model, max_len=8)
        calls = ["reset", (5, 0), (17, 1), (9, 2), (17, 1), "reset", (17, 1), (300, 0), (17, 1), (9, 2)]
        got, want = [], []
        for call in calls:
            if call == "reset":
                graph.reset_state()
                for buf in eager.buffers():
                    if buf.dtype == torch.float32:
                        buf.zero_()
                continue
            ids, pos = torch.tensor([[call[0]]]), torch.tensor([call[1]])
            (token,), _ = graph.run([ids, pos])
            got.append(int(token))
            with torch.no_grad():
                want.append(int(eager(ids, pos)))
        self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
