"""`dpoloop base-model train|evaluate`: the embedded model's commands. torch loads inside the commands only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from core.paths import EMBEDDED_MODEL_DIR, REPO_ROOT

base_model_cli = typer.Typer(no_args_is_help=True, help="Train and evaluate the embedded base model.")

DEFAULT_WORK_DIR = REPO_ROOT / ".cache" / "base-model"


@base_model_cli.command()
def train(
    work_dir: Annotated[
        Path, typer.Option(help="Where stage outputs and the resumable state live.")
    ] = DEFAULT_WORK_DIR,
    out: Annotated[Path, typer.Option(help="Pipeline directory written when training completes.")] = EMBEDDED_MODEL_DIR,
    minutes: Annotated[float | None, typer.Option(help="Stop (resumably) after this much wall time.")] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="UNet steps in all (default: the recipe's).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of every random choice in the recipe.")] = 0,
    tiny: Annotated[bool, typer.Option(help="A tiny architecture and data set, for smoke runs.")] = False,
    threads: Annotated[int, typer.Option(min=1, help="torch CPU threads.")] = 2,
    export_now: Annotated[bool, typer.Option(help="Train nothing; export the current weights as they are.")] = False,
) -> None:
    """Train the base model from scratch (or continue an interrupted run) and export it."""
    import torch  # here and below: `dpoloop` runs in light processes; only these commands need torch

    from worker.basemodel.architecture import TINY, Architecture
    from worker.basemodel.build import train_base_model
    from worker.basemodel.recipe import Recipe

    torch.set_num_threads(threads)
    recipe = Recipe(seed=seed)
    if tiny:
        recipe = Recipe(seed=seed, vae_steps=4, vae_batch=4, scenes=64, steps=6, batch=4, warmup=2,
                        save_every=3, eval_every=1_000_000)  # fmt: skip
    if steps is not None:
        recipe.steps = steps
    result = train_base_model(work_dir, out, recipe, TINY if tiny else Architecture(), minutes, export_now)
    if result["done"]:
        state = f"done, exported to {out}"
    elif export_now:
        state = f"exported as it is to {out}; run again to continue"
    else:
        state = "paused (run again to continue)"
    typer.echo(f"step {result['step']}/{recipe.steps}, {result['elapsed_s'] / 60:.1f} min of UNet training: {state}")


@base_model_cli.command()
def evaluate(
    model: Annotated[Path, typer.Option(help="Pipeline directory to score.")] = EMBEDDED_MODEL_DIR,
    seeds: Annotated[int, typer.Option(help="Seeds per held-out prompt.")] = 4,
    steps: Annotated[int, typer.Option(help="Sampler steps.")] = 20,
    guidance: Annotated[float, typer.Option(help="Classifier-free guidance scale.")] = 4.0,
    spread_seeds: Annotated[int, typer.Option(help="Seeds for the spread report.")] = 32,
    update_card: Annotated[bool, typer.Option(help="Write the scores into the model card.")] = False,
    threads: Annotated[int, typer.Option(min=1, help="torch CPU threads.")] = 2,
) -> None:
    """Score caption-following on unseen combinations and print the table; exit 1 below the bars."""
    import torch  # only this command needs torch (see train)
    from rich.console import Console
    from rich.table import Table

    from worker.basemodel.evaluate import BARS, caption_accuracy, seed_spread, unseen_combination_prompts
    from worker.basemodel.model_card import write_model_card
    from worker.generation.generator import Generator

    torch.set_num_threads(threads)
    generator = Generator(model)
    prompts = unseen_combination_prompts()
    accuracy = caption_accuracy(generator, prompts, seeds=list(range(seeds)), steps=steps, guidance=guidance)
    spread = seed_spread(generator, "a red circle", spread_seeds, guidance=guidance)

    table = Table(title=f"{model.name}: {accuracy.images} images of {len(prompts)} held-out prompts × {seeds} seeds")
    table.add_column("attribute")
    table.add_column("right", justify="right")
    table.add_column("bar", justify="right")
    table.add_column("")
    for attribute, rate in accuracy.as_dict().items():
        if attribute == "images":
            continue
        bar = BARS.get(attribute)
        verdict = "" if bar is None else ("pass" if rate >= bar else "FAIL")
        table.add_row(attribute, f"{rate:.1%}", f"≥ {bar:.0%}" if bar else "—", verdict)
    console = Console()
    console.print(table)
    console.print("seed spread:", json.dumps(spread))
    if update_card:
        training = json.loads((model / "training.json").read_text())
        scores = {"held_out": accuracy.as_dict(), "seeds": seeds, "steps": steps, "guidance": guidance,
                  "spread": spread}  # fmt: skip
        (model / "scores.json").write_text(json.dumps(scores, indent=1))
        write_model_card(model, training, scores)
    raise typer.Exit(0 if accuracy.passes() else 1)

