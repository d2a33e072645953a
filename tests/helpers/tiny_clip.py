"""A tiny randomly initialised CLIP model (with the embedded model's tokenizer), saved as a judge's
weights directory: it stands in for PickScore's and CLIP's weights through the real loading code."""

import pytest

from tests.conftest import EMBEDDED_MODEL


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-clip")
    text = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
            "max_position_embeddings": 77, "vocab_size": 49408}  # fmt: skip
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": 32, "patch_size": 8}  # fmt: skip
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(directory)
    pixels = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    tokenizer = CLIPTokenizer.from_pretrained(EMBEDDED_MODEL / "tokenizer")
    CLIPProcessor(image_processor=pixels, tokenizer=tokenizer).save_pretrained(directory)
    return directory
