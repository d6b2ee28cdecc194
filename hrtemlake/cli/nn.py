"""``hrtemlake train``, ``hrtemlake evaluate`` and ``hrtemlake networks``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer

from hrtemlake.cli._common import LakeOption

networks_app = typer.Typer(help="The network registry (networks/NAME in the lake).",
                           no_args_is_help=True)  # fmt: skip

ARCH_HELP = ("unet, unetpp or msdnet (pixel labels); regressor (Regression labels); "
             "classifier (Class labels, e.g. nanotube chiralities); "
             "denoiser (Denoise labels: convolutional autoencoder).")
CLASS_WEIGHTS_HELP = ("Segmentation labels: 'balanced' (inverse pixel frequency of each channel "
                      "on the training labels, capped at 50) or one weight per channel, "
                      "e.g. '1,5,1'. Weights every pixel's loss by its channels' weights.")


def train_cmd(
    epochs: Annotated[int, typer.Argument(help="Training epochs in total (a restart continues to this).")],
    train: Annotated[str, typer.Argument(help="Training image set DATASET/IMAGESET (or DATASET with one).")],
    validation: Annotated[str, typer.Argument(help="Validation image set DATASET/IMAGESET.")],
    name: Annotated[str, typer.Argument(help="Network name: networks/NAME in the lake.")],
    arch: Annotated[str, typer.Option(help=ARCH_HELP)] = "unet",
    filters: Annotated[Optional[int], typer.Option(help="Channels of the first level (MSD-net: per layer).")] = None,
    kernel: Annotated[Optional[int], typer.Option(help="Kernel size.")] = None,
    layers: Annotated[Optional[int], typer.Option(help="MSD-net layers.")] = None,
    depth: Annotated[Optional[int], typer.Option(help="U-net levels (down-samplings).")] = None,
    restart: Annotated[Optional[int], typer.Option(help="Continue from the checkpoint saved after this epoch.")] = None,
    epochsave: Annotated[int, typer.Option(help="Checkpoint every N epochs (and after the last).")] = 10,
    adam: Annotated[Optional[str], typer.Option(help="Adam options as JSON, e.g. '{\"learning_rate\": 1e-4}' (default: Adam + AMSGrad, 1e-3).")] = None,
    rmsprop: Annotated[Optional[float], typer.Option(help="Use RMSprop with this learning rate.")] = None,
    limitdata: Annotated[Optional[int], typer.Option(help="Use only the first N training models.")] = None,
    regularize: Annotated[Optional[float], typer.Option(help="L2 penalty on the convolution kernels.")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per gradient step.")] = 8,
    mixed_precision: Annotated[bool, typer.Option(help="float16 compute on a GPU (bfloat16 on a CPU).")] = False,
    augment: Annotated[Optional[str], typer.Option(help="Augmentation as JSON, e.g. '{\"flips\": false}'; 'none' for none.")] = None,
    synthesize: Annotated[Optional[Path], typer.Option(help="Image parameter file: draw fresh images from the training dataset's exit waves every epoch.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the weights, model order and augmentation.")] = 0,
    workers: Annotated[int, typer.Option(help="Threads preparing batches.")] = 1,
    class_weights: Annotated[Optional[str], typer.Option(help=CLASS_WEIGHTS_HELP)] = None,
    lake: LakeOption = None,
) -> None:
    """Train a network on image sets of the lake and register it as networks/NAME.

    The output activation and loss follow the image set's label (sigmoid + binary
    cross-entropy, softmax + categorical cross-entropy with a null class, linear + MSE for
    exit waves and denoising). Each epoch's losses are stored as it ends.
    """
    from hrtemlake.flows.train import train_flow
    from hrtemlake.nn.training import TrainingOptions
    from hrtemlake.runtime import prefect_api

    options = TrainingOptions(
        arch=arch, filters=filters, kernel=kernel, layers=layers, depth=depth,
        batch_size=batch_size, adam=_json(adam, "--adam"), rmsprop=rmsprop,
        regularize=regularize, mixed_precision=mixed_precision, epochsave=epochsave,
        limitdata=limitdata, seed=seed, augmentation=_augmentation(augment),
        synthesize=_parameter_file(synthesize), workers=workers,
        class_weights=parse_class_weights(class_weights),
    )  # fmt: skip
    _check_arch(arch)
    with prefect_api():
        curve = train_flow(name=name, train=train, validation=validation, epochs=epochs,
                           options=asdict(options), restart=restart, lake=lake)  # fmt: skip
    for row in curve:
        typer.echo(_epoch_line(row))
    typer.echo(f"networks/{name}: {len(curve)} epochs trained")


def evaluate_cmd(
    network: Annotated[str, typer.Argument(help="Registered network.")],
    image_set: Annotated[str, typer.Argument(help="Image set DATASET/IMAGESET (or DATASET with one).")],
    radius: Annotated[float, typer.Option(help="Match radius of the atomic F1 \\[Å].")] = 1.0,
    batch_size: Annotated[int, typer.Option(help="Images per forward pass.")] = 8,
    lake: LakeOption = None,
) -> None:
    """Score a network on every image of an image set; the per-image scores go to
    networks/NETWORK/evaluations/DATASET/IMAGESET."""
    from hrtemlake.flows.train import evaluate_flow
    from hrtemlake.runtime import prefect_api

    with prefect_api():
        summary = evaluate_flow(network=network, image_set=image_set, radius=radius,
                                batch_size=batch_size, lake=lake)  # fmt: skip
    typer.echo(f"{network} on {image_set} (median over images):")
    for key, value in summary.items():
        typer.echo(f"  {key:<17} {value:.4f}")


@networks_app.command("ls")
def networks_ls_cmd(lake: LakeOption = None) -> None:
    """List the networks: architecture, parameters, epochs, last losses, training data."""
    from hrtemlake.lake import Lake
    from hrtemlake.nn.registry import list_networks

    networks = list_networks(Lake(lake))
    if not networks:
        typer.echo("no networks")
    for info in networks:
        arch = info.architecture
        typer.echo(
            f"{info.name}: {arch.get('arch')} ({info.trainable_parameters:,} parameters), "
            f"{info.label} {list(info.channel_names)}, {info.epochs} epochs, "
            f"loss {info.loss:.4g}, val_loss {info.val_loss:.4g}, val_metric {info.val_metric:.4g}; "
            f"trained on {info.datasets.get('train')}; checkpoints {list(info.checkpoints)}"
        )


@networks_app.command("plot")
def networks_plot_cmd(
    name: Annotated[str, typer.Argument(help="Network name.")],
    out: Annotated[Path, typer.Option(help="Image file (.png, .pdf, .svg).")] = Path("learning_curve.png"),
    lake: LakeOption = None,
) -> None:
    """Plot a network's learning curve (training and validation loss and metric)."""
    from hrtemlake.lake import Lake
    from hrtemlake.nn.plots import plot_learning_curve

    fig = plot_learning_curve(Lake(lake), name)
    fig.savefig(out, dpi=120)
    typer.echo(f"wrote {out}")


def _json(text: Optional[str], flag: str) -> Optional[dict]:
    from hrtemlake.errors import ParameterError

    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParameterError(f"{flag}: not JSON ({error}): {text!r}") from error
    if not isinstance(value, dict):
        raise ParameterError(f"{flag}: expected a JSON object, got {text!r}")
    return value


def _augmentation(text: Optional[str]) -> dict:
    from hrtemlake.nn.augment import Augmentation

    if text is not None and text.strip().lower() == "none":
        return Augmentation.none().to_dict()
    return Augmentation.from_dict(_json(text, "--augment") or {}).to_dict()


def parse_class_weights(text: Optional[str]):
    """``--class-weights``: None, "balanced" or a list of floats ("w1,w2,...")."""
    from hrtemlake.errors import ParameterError

    if text is None:
        return None
    text = text.strip()
    if text.lower() == "balanced":
        return "balanced"
    try:
        weights = [float(part) for part in text.split(",")]
    except ValueError as error:
        raise ParameterError(f"--class-weights: expected 'balanced' or comma-separated numbers "
                             f"(one per channel), got {text!r}") from error  # fmt: skip
    if not all(w >= 0 and w < float("inf") for w in weights):
        raise ParameterError(f"--class-weights: weights must be finite and >= 0, got {text!r}")
    return weights


def _parameter_file(path: Optional[Path]) -> Optional[dict]:
    if path is None:
        return None
    from hrtemlake.simulate.params import load_parameters

    return load_parameters(path).to_dict()


def _check_arch(arch: str) -> None:
    from hrtemlake.errors import ParameterError
    from hrtemlake.nn.architectures import ARCHITECTURES

    allowed = (*ARCHITECTURES, "regressor")
    if arch not in (*allowed, "denoiser", "classifier"):
        raise ParameterError(f"--arch: expected one of {', '.join(allowed)}, got {arch!r} "
                             f"(or denoiser, for Denoise labels; classifier, for Class "
                             f"labels)")  # fmt: skip


def _epoch_line(row: dict) -> str:
    return (f"epoch {row['epoch']:>3}: loss {row['loss']:.4g}  val_loss {row['val_loss']:.4g}  "
            f"metric {row['metric']:.4g}  val_metric {row['val_metric']:.4g}  {row['seconds']:.1f} s")  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)
    app.add_typer(networks_app, name="networks")
