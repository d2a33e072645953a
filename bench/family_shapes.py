"""Pipelines of each family with random weights, at their real sizes or tiny, built in memory (nothing
downloaded): what the GPU check and the memory bench time and measure.

Real sizes follow the published configs: SD 1.5 (UNet 860M, CLIP ViT-L/14), SDXL (UNet 2.6B,
CLIP ViT-L + OpenCLIP bigG), SD3 medium (transformer 2B, CLIP-L + CLIP-G + T5-XXL) and FLUX.1-dev
(transformer 12B with the guidance embedding, CLIP-L + T5-XXL, 16-channel VAE). The tokenizers are
the project's own (the scene words): token ids stay inside every vocabulary, and the sequence
lengths are the real ones (77 for CLIP, 256/512 for T5), which is what costs time and memory.

    build(family, scale="real"|"tiny", device, dtype) -> (pipeline, ModelFamily)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

FAMILIES = ("sd15", "sdxl", "sd3", "flux")


def _clip_tokenizer(max_length: int):
    from transformers import CLIPTokenizer

    from worker.basemodel.tokenizer import write_tokenizer_files
    from worker.scenes.world import CAPTION_WORDS

    with tempfile.TemporaryDirectory(prefix="dpoloop-tok-") as directory:  # read into memory, then gone
        write_tokenizer_files(CAPTION_WORDS, Path(directory), max_length=max_length)
        return CLIPTokenizer.from_pretrained(directory)


def _t5_tokenizer(max_length: int):
    from transformers import T5Tokenizer

    from worker.scenes.world import CAPTION_WORDS

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("▁" + w, -1.0) for w in sorted(CAPTION_WORDS)]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=max_length)


def _clip(hidden: int, layers: int, heads: int, projection: bool, tiny: bool):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    if tiny:
        hidden, layers, heads = 32, 2, 2
    config = CLIPTextConfig(
        vocab_size=49408, hidden_size=hidden, intermediate_size=4 * hidden, num_hidden_layers=layers,
        num_attention_heads=heads, max_position_embeddings=77, projection_dim=hidden, hidden_act="gelu",
    )  # fmt: skip
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)


def _t5(tiny: bool):
    from transformers import T5Config, T5EncoderModel

    if tiny:
        return T5EncoderModel(T5Config(vocab_size=32128, d_model=32, d_ff=64, d_kv=8, num_heads=4, num_layers=2))
    return T5EncoderModel(T5Config(vocab_size=32128, d_model=4096, d_ff=10240, d_kv=64, num_heads=64, num_layers=24,
                                   feed_forward_proj="gated-gelu", relative_attention_num_buckets=32))  # fmt: skip


def _vae(latent_channels: int, sample_size: int, tiny: bool, **extra):
    from diffusers import AutoencoderKL

    blocks = (16, 16, 16, 16) if tiny else (128, 256, 512, 512)
    return AutoencoderKL(block_out_channels=blocks, down_block_types=("DownEncoderBlock2D",) * 4,
                         up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=1 if tiny else 2,
                         latent_channels=latent_channels, norm_num_groups=16 if tiny else 32,
                         sample_size=sample_size, **extra)  # fmt: skip


def _sd15(tiny: bool):
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    width = 32 if tiny else 320
    unet = UNet2DConditionModel(
        sample_size=8 if tiny else 64, block_out_channels=tuple(width * m for m in (1, 2, 4, 4)), layers_per_block=2,
        cross_attention_dim=32 if tiny else 768, attention_head_dim=2 if tiny else 8,
        norm_num_groups=16 if tiny else 32,
    )  # fmt: skip
    return StableDiffusionPipeline(
        vae=_vae(4, 64 if tiny else 512, tiny, scaling_factor=0.18215), text_encoder=_clip(768, 12, 12, False, tiny),
        tokenizer=_clip_tokenizer(77), unet=unet, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
        scheduler=DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1,
                                clip_sample=False, set_alpha_to_one=False),
    )  # fmt: skip


def _sdxl(tiny: bool):
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    time_dim, pooled = (8, 32) if tiny else (256, 1280)
    unet = UNet2DConditionModel(
        sample_size=16 if tiny else 128, block_out_channels=(32, 64, 64) if tiny else (320, 640, 1280),
        layers_per_block=2, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 1, 1) if tiny else (1, 2, 10),
        attention_head_dim=(2, 4, 4) if tiny else (5, 10, 20), cross_attention_dim=64 if tiny else 2048,
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=time_dim,
        projection_class_embeddings_input_dim=6 * time_dim + pooled, norm_num_groups=16 if tiny else 32,
    )  # fmt: skip
    return StableDiffusionXLPipeline(
        vae=_vae(4, 128 if tiny else 1024, tiny, scaling_factor=0.13025, force_upcast=False),
        text_encoder=_clip(768, 12, 12, False, tiny), text_encoder_2=_clip(1280, 32, 20, True, tiny),
        tokenizer=_clip_tokenizer(77), tokenizer_2=_clip_tokenizer(77), unet=unet,
        scheduler=EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
    )  # fmt: skip


def _sd3(tiny: bool):
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline

    if tiny:
        transformer = SD3Transformer2DModel(sample_size=16, patch_size=2, in_channels=16, out_channels=16,
                                            num_layers=2, attention_head_dim=8, num_attention_heads=2,
                                            joint_attention_dim=32, caption_projection_dim=16,
                                            pooled_projection_dim=64, pos_embed_max_size=16)  # fmt: skip
    else:
        transformer = SD3Transformer2DModel(sample_size=128, patch_size=2, in_channels=16, out_channels=16,
                                            num_layers=24, attention_head_dim=64, num_attention_heads=24,
                                            joint_attention_dim=4096, caption_projection_dim=1536,
                                            pooled_projection_dim=2048, pos_embed_max_size=192)  # fmt: skip
    return StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=_vae(16, 128 if tiny else 1024, tiny, scaling_factor=1.5305, shift_factor=0.0609, use_quant_conv=False,
                 use_post_quant_conv=False),
        text_encoder=_clip(768, 12, 12, True, tiny), tokenizer=_clip_tokenizer(77),
        text_encoder_2=_clip(1280, 32, 20, True, tiny), tokenizer_2=_clip_tokenizer(77),
        text_encoder_3=_t5(tiny), tokenizer_3=_t5_tokenizer(256),
    )  # fmt: skip


def _flux(tiny: bool):
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel

    if tiny:
        transformer = FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=1, num_single_layers=1,
                                             attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                             pooled_projection_dim=32, guidance_embeds=True,
                                             axes_dims_rope=(4, 4, 8))  # fmt: skip
    else:  # FLUX.1-dev
        transformer = FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38,
                                             attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096,
                                             pooled_projection_dim=768, guidance_embeds=True,
                                             axes_dims_rope=(16, 56, 56))  # fmt: skip
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                                                base_image_seq_len=256, max_image_seq_len=4096)  # fmt: skip
    return FluxPipeline(
        transformer=transformer, scheduler=scheduler,
        vae=_vae(16, 128 if tiny else 1024, tiny, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False,
                 use_post_quant_conv=False),
        text_encoder=_clip(768, 12, 12, False, tiny), tokenizer=_clip_tokenizer(77),
        text_encoder_2=_t5(tiny), tokenizer_2=_t5_tokenizer(512),
    )  # fmt: skip


def build(family: str, scale: str = "real", device: str = "cpu", dtype=None):
    """A pipeline of `family` with random weights, built directly on `device` in `dtype`."""
    import torch

    from core.family import ModelFamily

    builders = {"sd15": (_sd15, ModelFamily.sd), "sdxl": (_sdxl, ModelFamily.sdxl), "sd3": (_sd3, ModelFamily.sd3),
                "flux": (_flux, ModelFamily.flux)}  # fmt: skip
    make, model_family = builders[family]
    dtype = dtype or torch.float32
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # parameters are born in dtype: a 12B model never exists in fp32
    try:
        with torch.device(device):
            torch.manual_seed(0)
            pipe = make(scale == "tiny")
    finally:
        torch.set_default_dtype(previous)
    pipe.set_progress_bar_config(disable=True)
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()  # as from_pretrained leaves them: no dropout in the text encoders
    return pipe.to(device), model_family


def size_of(pipe, family) -> int:
    """The family's native image size in pixels."""
    from worker.generation.generator import Generator

    return Generator.from_pipeline(pipe, family).default_size
