"""torch.compile(model, backend="kiln") end to end: entry-point registration, PCC against eager
PyTorch, host fallback, the per-shape cache, grad modes, options and dumps.

The backend is found through its torch_dynamo_backends entry point, read from pyproject.toml into a
temporary distribution (what `pip install -e .` in tools/setup.sh installs), so these tests do not
depend on what the shared environment has installed.
"""

import gc
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import tomllib
import unittest
import warnings

import torch
from torch import nn

from torch_frontend import compare, models
from torch_frontend import kiln_backend as kiln

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _write_distribution(site: str) -> None:
    """A minimal installed distribution with pyproject.toml's entry points."""
    with open(os.path.join(_REPO, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    info = os.path.join(site, f"{project['name'].replace('-', '_')}-{project['version']}.dist-info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    with open(os.path.join(info, "entry_points.txt"), "w") as f:
        for group, entries in project["entry-points"].items():
            f.write(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()))


_SITE = tempfile.mkdtemp(prefix="kiln-dist-")
_write_distribution(_SITE)
sys.path.append(_SITE)  # before torch first looks up a backend by name (it caches the entry points)


def _pcc(a: torch.Tensor, b: torch.Tensor) -> float:
    return compare.pcc(a.detach().numpy(), b.detach().numpy())


class KilnBackendTest(unittest.TestCase):
    def setUp(self):
        torch._dynamo.reset()
        kiln.reset_stats()
        gc.collect()
        self.held_before = kiln.stats().programs_held  # earlier tests' graphs may still be alive

    def check_model(self, name: str) -> None:
        spec = models.get(name)
        model = spec.build().eval()
        inputs = spec.example_inputs(0)
        compiled = torch.compile(model, backend="kiln")
        with torch.no_grad():
            got, want = compiled(*inputs), model(*inputs)
        self.assertGreaterEqual(_pcc(got, want), 0.999, name)
        s = kiln.stats()
        self.assertEqual(s.programs_compiled, 1)
        self.assertEqual(dict(s.host_ops), {})
        self.assertGreater(s.device_ops, 0)
        self.assertGreater(s.simulated_us, 0)

    def test_mlp(self):
        self.check_model("mlp")

    def test_small_cnn(self):
        self.check_model("small_cnn")

    def test_resnet18(self):
        self.check_model("resnet18")

    def test_attention_block(self):
        self.check_model("tiny_attention")

    def test_gpt2_block_from_config(self):
        from transformers import GPT2Config
        from transformers.models.gpt2.modeling_gpt2 import GPT2Block
        torch.manual_seed(0)
        config = GPT2Config(n_embd=64, n_head=4, n_layer=1, n_positions=32, vocab_size=100,
                            bos_token_id=0, eos_token_id=0, attn_implementation="eager")
        block = GPT2Block(config).eval()
        x = torch.randn(2, 8, 64)
        with torch.no_grad():
            got, want = torch.compile(block, backend="kiln")(x)[0], block(x)[0]
        self.assertGreaterEqual(_pcc(got, want), 0.999)
        self.assertEqual(dict(kiln.stats().host_ops), {})

    def test_bert_encoder_from_config(self):
        from transformers import BertConfig, BertModel
        torch.manual_seed(0)
        config = BertConfig(hidden_size=64, num_attention_heads=4, num_hidden_layers=2, intermediate_size=128,
                            vocab_size=100, max_position_embeddings=32, attn_implementation="eager")
        bert = BertModel(config).eval()
        ids = torch.randint(0, 100, (2, 8))
        with torch.no_grad():
            got = torch.compile(bert, backend="kiln")(ids).last_hidden_state
            want = bert(ids).last_hidden_state
        self.assertGreaterEqual(_pcc(got, want), 0.999)
        self.assertEqual(dict(kiln.stats().host_ops), {})

    def test_int64_inputs_and_outputs(self):
        spec = models.get("token_classifier")  # int64 token ids in, float logits and int64 argmax out
        model = spec.build().eval()
        ids = spec.example_inputs(0)
        with torch.no_grad():
            logits, best = torch.compile(model, backend="kiln")(*ids)
            want_logits, want_best = model(*ids)
        self.assertGreaterEqual(_pcc(logits, want_logits), 0.999)
        self.assertEqual(best.dtype, torch.int64)
        self.assertTrue(torch.equal(best, want_best))

    def test_graph_break_gives_two_kiln_graphs(self):
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 3)

            def forward(self, x):
                y = self.a(x)
                torch._dynamo.graph_break()
                return self.b(torch.relu(y))

        model = Model().eval()
        x = torch.randn(3, 8)
        with torch.no_grad():
            got = torch.compile(model, backend="kiln")(x)
        self.assertGreaterEqual(_pcc(got, model(x)), 0.999)
        self.assertEqual((kiln.stats().graphs, kiln.stats().programs_compiled), (2, 2))

    def test_dynamic_graph_compiles_one_program_per_shape(self):
        model = models.get("mlp").build().eval()
        compiled = torch.compile(model, backend="kiln", dynamic=True)
        with torch.no_grad():
            for batch in (3, 5, 3):
                x = torch.randn(batch, 64)
                self.assertGreaterEqual(_pcc(compiled(x), model(x)), 0.999)
        self.assertEqual((kiln.stats().graphs, kiln.stats().programs_compiled), (1, 2))

    def test_unsupported_op_runs_on_host_with_one_warning_and_stats(self):
        # Still without a lowering rule on main; if it gains one, pick another unsupported op.
        self.assertIn("aten._upsample_bilinear2d_aa.default", kiln.kiln_ext.unsupported_ops())

        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 4)

            def forward(self, x):
                y = self.a(x)
                z = nn.functional.interpolate(y.view(-1, 1, 2, 4), size=(1, 2), mode="bilinear", antialias=True)
                return self.b(torch.relu(y - z.flatten(1).sum(-1, keepdim=True)))

        model = Model().eval()
        x = torch.randn(5, 8)
        compiled = torch.compile(model, backend="kiln")
        with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = compiled(x)
            compiled(x)
        self.assertGreaterEqual(_pcc(got, model(x)), 0.999)
        kiln_warnings = [str(w.message) for w in caught if "kiln:" in str(w.message)]
        self.assertEqual(len(kiln_warnings), 1, kiln_warnings)
        self.assertIn("1 op(s) run on the host: aten._upsample_bilinear2d_aa.default x1 (not supported yet: "
                      "no rule yet for antialiased bilinear resizing (interpolate(..., antialias=True))); "
                      "2 device subgraph(s)", kiln_warnings[0])
        s = kiln.stats()
        self.assertEqual(dict(s.host_ops), {"aten._upsample_bilinear2d_aa.default": 1})
        self.assertEqual(s.programs_compiled, 2)  # before the resize and after it
        self.assertEqual(s.device_calls, 4)
        self.assertGreater(s.transfers, 0)
        self.assertIn("host ops: aten._upsample_bilinear2d_aa.default x1", str(s))
        self.assertEqual(s.programs_held - self.held_before, 2)

    def test_same_shape_reuses_the_program_and_a_new_shape_recompiles(self):
        model = models.get("mlp").build().eval()
        compiled = torch.compile(model, backend="kiln")
        with torch.no_grad():
            compiled(torch.randn(4, 64))
            self.assertEqual(kiln.stats().programs_compiled, 1)
            compiled(torch.randn(4, 64))
            self.assertEqual(kiln.stats().programs_compiled, 1)
            x = torch.randn(7, 64)
            got = compiled(x)
            self.assertEqual(kiln.stats().programs_compiled, 2)
            self.assertGreaterEqual(_pcc(got, model(x)), 0.999)
            compiled(torch.randn(7, 64))
            self.assertEqual(kiln.stats().programs_compiled, 2)
            self.assertEqual(kiln.stats().device_calls, 4)

    def test_weights_changed_in_place_recompile_and_old_programs_are_dropped(self):
        model = nn.Sequential(nn.Linear(8, 8), nn.ReLU()).eval()
        compiled = torch.compile(model, backend="kiln")
        x = torch.randn(3, 8)
        updates = kiln.MAX_PROGRAMS_PER_GRAPH + 2
        with torch.no_grad():
            compiled(x)
            for _ in range(updates):
                model[0].weight.mul_(-2)
                got = compiled(x)
                self.assertGreaterEqual(_pcc(got, model(x)), 0.999)
        self.assertEqual(kiln.stats().programs_compiled, updates + 1)
        self.assertEqual(kiln.stats().programs_held - self.held_before, kiln.MAX_PROGRAMS_PER_GRAPH)

    def test_inference_mode(self):
        model = models.get("mlp").build().eval()
        x = torch.randn(4, 64)
        compiled = torch.compile(model, backend="kiln")
        with torch.inference_mode():
            got = compiled(x)
        self.assertGreaterEqual(_pcc(got, model(x)), 0.999)

    def test_backward_through_a_kiln_graph_is_a_clear_error(self):
        model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
        x = torch.randn(3, 8)
        out = torch.compile(model, backend="kiln")(x)  # grad enabled, weights require grad
        self.assertTrue(out.requires_grad)
        self.assertGreaterEqual(_pcc(out, model(x)), 0.999)  # the forward is still right
        with self.assertRaisesRegex(RuntimeError, r"kiln: cannot backpropagate through graph\d+: "
                                    r"torch.compile\(backend='kiln'\) runs inference only"):
            out.sum().backward()

    def test_options_and_dump_dir(self):
        model = models.get("mlp").build().eval()
        x = torch.randn(4, 64)
        with tempfile.TemporaryDirectory() as dump, torch.no_grad():
            got = torch.compile(model, backend="kiln",
                                options={"device_dtype": "bf16", "dump_dir": dump})(x)
            self.assertGreaterEqual(_pcc(got, model(x)), 0.99)  # bf16 storage
            (graph,) = os.listdir(dump)  # one directory per compiled program
            self.assertRegex(graph, r"^graph\d+_0$")
            files = sorted(os.listdir(os.path.join(dump, graph)))
            self.assertIn("program.pt2", files)
            self.assertIn("program.kiln", files)
            self.assertIn("01-lower.txt", files)

    def test_bad_options_are_named(self):
        model = models.get("mlp").build().eval()
        with self.assertRaisesRegex(Exception, "kiln: unknown option.s. dtype; known: chip, "
                                    "device_dtype, device_memory_bytes, dump_dir"):
            torch.compile(model, backend="kiln", options={"dtype": "bf16"})(torch.randn(4, 64))
        torch._dynamo.reset()
        with self.assertRaisesRegex(Exception, "kiln: device_dtype 'f16': expected f32 or bf16"):
            torch.compile(model, backend="kiln", options={"device_dtype": "f16"})(torch.randn(4, 64))

    def test_chip_option(self):
        model = models.get("mlp").build().eval()
        x = torch.randn(4, 64)
        chip = os.path.join(_REPO, "target", "configs", "wormhole_n150.json")
        with torch.no_grad():
            got = torch.compile(model, backend="kiln", options={"chip": chip})(x)
        self.assertGreaterEqual(_pcc(got, model(x)), 0.999)
        torch._dynamo.reset()
        with tempfile.NamedTemporaryFile("w", suffix=".json") as bad:
            bad.write('{"name": "broken"}')
            bad.flush()
            with self.assertRaisesRegex(Exception, f"{bad.name}: chip config: missing numeric field 'clock_ghz'"):
                torch.compile(model, backend="kiln", options={"chip": bad.name})(x)

    def test_a_graph_kiln_rejects_runs_on_host_with_the_reason(self):
        model = models.get("mlp").build().eval()
        x = torch.randn(4, 64)
        # 1 KiB of DRAM and a chip whose SRAM (16 bytes per core usable) cannot hold the MLP either.
        with open(os.path.join(_REPO, "target", "configs", "wormhole_n150.json")) as f:
            chip = json.load(f)
        chip["sram_reserved_bytes_per_core"] = chip["sram_bytes_per_core"] - 16
        tiny = tempfile.NamedTemporaryFile("w", suffix=".json")
        self.addCleanup(tiny.close)
        json.dump(chip, tiny)
        tiny.flush()
        compiled = torch.compile(model, backend="kiln", options={"chip": tiny.name, "device_memory_bytes": 1024})
        with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = compiled(x)
        self.assertGreaterEqual(_pcc(got, model(x)), 0.999)
        messages = [str(w.message) for w in caught if "kiln:" in str(w.message)]
        self.assertEqual(len(messages), 1, messages)
        self.assertRegex(messages[0], r"^kiln: (graph\d+_0): 0 device subgraph.s.; rejected by Kiln, so run on "
                         r"the host: \1: .*device memory")
        s = kiln.stats()
        self.assertEqual((s.programs_compiled, s.device_calls, len(s.fallbacks)), (0, 0, 1))

    def test_fresh_interpreter_finds_the_backend_by_name(self):
        script = textwrap.dedent("""
            import torch
            m = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()).eval()
            x = torch.randn(2, 4)
            with torch.no_grad():
                y = torch.compile(m, backend="kiln")(x)
            assert torch.allclose(y, m(x), atol=1e-5), (y, m(x))
            import torch_frontend.kiln_backend as kiln
            print(kiln.stats().programs_compiled)
        """)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([_REPO, _SITE]))
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                             cwd=tempfile.gettempdir())
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), "1")


if __name__ == "__main__":
    unittest.main()
