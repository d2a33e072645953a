"""Tiny SD and SDXL pipelines built from configs, for tests that need a model of each family.

They draw noise, but they exercise exactly the code paths a real SD 1.x / SDXL checkpoint takes.
"""

from __future__ import annotations

from pathlib import Path


def _tokenizer(directory: Path):
    from transformers import CLIPTokenizer

    from worker.basemodel.tokenizer import write_tokenizer_files
    from worker.scenes.world import CAPTION_WORDS

    write_tokenizer_files(CAPTION_WORDS, directory, max_length=16)
    return CLIPTokenizer.from_pretrained(directory)


def _text_config(tokenizer, hidden: int, projection: bool):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    vocab = tokenizer.get_vocab()
    config = CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=16, projection_dim=hidden,
        bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"],
    )  # fmt: skip
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)


def _vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(16, 16, 16), down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3, layers_per_block=1, latent_channels=4, norm_num_groups=8,
        sample_size=64,
    )  # fmt: skip


def build_tiny_sdxl(directory: Path, seed: int = 0) -> Path:
    """Save a tiny StableDiffusionXLPipeline (64×64 images, 16×16 latents) to directory."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    torch.manual_seed(seed)
    tokenizer = _tokenizer(directory / "_tok")
    text_encoder = _text_config(tokenizer, 32, projection=False)
    text_encoder_2 = _text_config(tokenizer, 32, projection=True)
    time_dim = 8
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32 + 32, attention_head_dim=2, norm_num_groups=16,
        addition_embed_type="text_time", addition_time_embed_dim=time_dim,
        # SDXL's added condition: 6 size/crop numbers, each embedded, plus the pooled text embedding.
        projection_class_embeddings_input_dim=6 * time_dim + 32,
    )  # fmt: skip
    pipe = StableDiffusionXLPipeline(
        vae=_vae(), text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
        tokenizer_2=tokenizer, unet=unet, scheduler=EulerDiscreteScheduler(beta_schedule="scaled_linear"),
    )  # fmt: skip
    pipe.save_pretrained(directory / "sdxl")
    return directory / "sdxl"


def build_tiny_sd(directory: Path, seed: int = 0) -> Path:
    """Save a tiny StableDiffusionPipeline (64×64 images, 16×16 latents) to directory."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    torch.manual_seed(seed)
    tokenizer = _tokenizer(directory / "_tok")
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=2, norm_num_groups=16,
    )  # fmt: skip
    pipe = StableDiffusionPipeline(
        vae=_vae(), text_encoder=_text_config(tokenizer, 32, projection=False), tokenizer=tokenizer, unet=unet,
        scheduler=DDIMScheduler(beta_schedule="scaled_linear"), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )  # fmt: skip
    pipe.save_pretrained(directory / "sd")
    return directory / "sd"
