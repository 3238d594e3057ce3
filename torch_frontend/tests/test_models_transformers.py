"""Tests for the transformers and detector entries of torch_frontend.models: the published
configurations, the MiniLM entry computing exactly what sentence-transformers computes from the same
checkpoint, and YOLOv8n building offline without writing to $HOME."""

import os
import tempfile
import unittest
import unittest.mock

import torch

from torch_frontend import models

# sentence-transformers and transformers read only local files here; never let them try the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


class TransformerConfigsTest(unittest.TestCase):
    def test_bert_2layer_is_bert_base_with_two_layers(self) -> None:
        model = models.get("bert_2layer").build().model
        self.assertEqual(len(model.encoder.layer), 2)
        self.assertEqual(model.config.hidden_size, 768)
        self.assertEqual(model.config.intermediate_size, 3072)
        self.assertEqual(model.config.num_attention_heads, 12)

    def test_gpt2_has_the_published_parameter_count(self) -> None:
        model = models.get("gpt2").build().model
        self.assertEqual(sum(p.numel() for p in model.parameters()), 124_439_808)  # "124M"

    def test_bert_inputs_are_int64_ids_and_a_padding_mask(self) -> None:
        ids, mask = models.get("bert_2layer").example_inputs()
        self.assertEqual((ids.dtype, mask.dtype, tuple(ids.shape)), (torch.int64, torch.int64, (1, 128)))
        self.assertEqual(int(mask.sum()), 100)


class MiniLMTest(unittest.TestCase):
    def test_embeddings_equal_sentence_transformers(self) -> None:
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(str(models.minilm_checkpoint_dir()), device="cpu")
        expected = st.encode(list(models.MINILM_SENTENCES), convert_to_tensor=True)
        spec = models.get("minilm")
        ids, mask = spec.example_inputs()
        features = st.preprocess(list(models.MINILM_SENTENCES))
        self.assertTrue(torch.equal(ids, features["input_ids"]))
        self.assertTrue(torch.equal(mask, features["attention_mask"]))
        with torch.no_grad():
            got = spec.build()(ids, mask)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
        # The sentences differ in meaning, so the embeddings are far from one another.
        self.assertLess(float((got @ got.T).fill_diagonal_(0).max()), 0.5)


class YoloTest(unittest.TestCase):
    def test_yolov8n_builds_offline_and_leaves_home_alone(self) -> None:
        with tempfile.TemporaryDirectory() as home:
            env = {k: v for k, v in os.environ.items() if k != "YOLO_CONFIG_DIR"}
            with unittest.mock.patch.dict(os.environ, dict(env, HOME=home), clear=True):
                model = models.get("yolov8n").build()
                self.assertEqual(os.listdir(home), [])
        self.assertEqual(sum(p.numel() for p in model.parameters()), 3_157_200)  # YOLOv8n: 3.2M
        with torch.no_grad():
            out = model(*models.get("yolov8n").example_inputs())
        self.assertEqual(tuple(out.shape), (1, 84, 8400))  # 4 box coordinates + 80 classes per anchor


if __name__ == "__main__":
    unittest.main()
