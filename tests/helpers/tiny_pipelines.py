"""Tiny SD, SDXL, SD3 and FLUX pipelines built from configs, for tests that need a model of each family.

They draw noise, but they exercise exactly the code paths a real checkpoint of each family takes.
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


def _vae(shift_factor: float | None = None):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(16, 16, 16), down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3, layers_per_block=1, latent_channels=4, norm_num_groups=8,
        sample_size=64, shift_factor=shift_factor,
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


def _t5(directory: Path, hidden: int = 32):
    """A tiny T5 encoder and a unigram T5 tokenizer over the scene words (no download)."""
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    from worker.scenes.world import CAPTION_WORDS

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("▁" + w, -1.0) for w in sorted(CAPTION_WORDS)]
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    tokenizer.save_pretrained(directory)
    config = T5Config(
        vocab_size=len(vocab), d_model=hidden, d_kv=8, d_ff=hidden * 2, num_layers=2, num_heads=2,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )  # fmt: skip
    return T5Tokenizer.from_pretrained(directory), T5EncoderModel(config)


def build_tiny_sd3(directory: Path, seed: int = 0) -> Path:
    """Save a tiny StableDiffusion3Pipeline (64×64 images, 16×16 latents; CLIP ×2 + T5) to directory."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline

    torch.manual_seed(seed)
    tokenizer = _tokenizer(directory / "_tok")
    tokenizer_3, text_encoder_3 = _t5(directory / "_t5")
    transformer = SD3Transformer2DModel(
        sample_size=16, patch_size=2, in_channels=4, out_channels=4, num_layers=2, attention_head_dim=8,
        num_attention_heads=2, joint_attention_dim=32, caption_projection_dim=16, pooled_projection_dim=64,
        pos_embed_max_size=16,
    )  # fmt: skip
    pipe = StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), vae=_vae(shift_factor=0.06),
        text_encoder=_text_config(tokenizer, 32, projection=True), tokenizer=tokenizer,
        text_encoder_2=_text_config(tokenizer, 32, projection=True), tokenizer_2=tokenizer,
        text_encoder_3=text_encoder_3, tokenizer_3=tokenizer_3,
    )  # fmt: skip
    pipe.save_pretrained(directory / "sd3")
    return directory / "sd3"


def build_tiny_flux(directory: Path, seed: int = 0) -> Path:
    """Save a tiny FluxPipeline (64×64 images, 16×16 latents packed 2×2; CLIP + T5) to directory."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel

    torch.manual_seed(seed)
    tokenizer = _tokenizer(directory / "_tok")
    tokenizer_2, text_encoder_2 = _t5(directory / "_t5")
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, guidance_embeds=True,
        axes_dims_rope=[4, 4, 8],
    )  # fmt: skip
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                                                base_image_seq_len=16, max_image_seq_len=256)  # fmt: skip
    pipe = FluxPipeline(
        transformer=transformer, scheduler=scheduler, vae=_vae(shift_factor=0.06),
        text_encoder=_text_config(tokenizer, 32, projection=False), tokenizer=tokenizer,
        text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2,
    )  # fmt: skip
    pipe.save_pretrained(directory / "flux")
    return directory / "flux"
