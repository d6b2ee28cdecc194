"""Prefect flows: train a network on the lake's image sets, and score it.

Thin: the work is :func:`hrtemlake.nn.train_network` and :func:`hrtemlake.nn.evaluate_network`.
Training is one task in the flow's process (TensorFlow uses every core, or the GPU it sees);
each epoch's learning-curve row and each checkpoint is in the lake as soon as it exists, so a
retry continues from the last checkpoint. In a container the command runs under
``apptainer exec --nv`` (see ``containers/``), where TensorFlow finds the GPU.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from hrtemlake.lake import Lake


def _log_epoch(logger):
    def report(row: dict) -> None:
        logger.info(
            "epoch %d/%d  loss %.4g  val_loss %.4g  metric %.4g  val_metric %.4g  (%.1f s)",
            row["epoch"], row["epochs"], row["loss"], row["val_loss"], row["metric"],
            row["val_metric"], row["seconds"],
        )  # fmt: skip

    return report


@task(name="train-network", retries=1, retry_delay_seconds=10)
def train_task(lake: str | None, name: str, train: str, validation: str, epochs: int,
               options: dict[str, Any], restart: int | None) -> list[dict]:  # fmt: skip
    from prefect.runtime import task_run

    from hrtemlake.nn import TrainingOptions, train_network
    from hrtemlake.nn.registry import checkpoint_epochs

    store = Lake(lake, mode="a")
    if task_run.run_count > 1:  # a retry continues from the last checkpoint this run saved
        saved = checkpoint_epochs(store, name)
        restart = int(saved[-1]) if len(saved) and saved[-1] > (restart or 0) else restart
    result = train_network(store, name, train, validation, epochs,
                           TrainingOptions(**options), restart=restart,
                           progress=_log_epoch(get_run_logger()))  # fmt: skip
    return result.curve


@flow(name="train", log_prints=True)
def train_flow(
    name: str, train: str, validation: str, epochs: int, options: dict[str, Any] | None = None,
    restart: int | None = None, lake: str | None = None,
) -> list[dict]:  # fmt: skip
    """Train network ``name`` to ``epochs`` epochs (see :func:`hrtemlake.nn.train_network`);
    returns the learning-curve rows this run added."""
    curve = train_task(lake, name, train, validation, epochs, dict(options or {}), restart)
    if curve:
        create_table_artifact(
            key=_key("train", name), table=[{k: round(v, 6) for k, v in row.items()} for row in curve],
            description=f"learning curve of networks/{name} (epochs added by this run)",
        )  # fmt: skip
    return curve


@task(name="evaluate-network")
def evaluate_task(lake: str | None, network: str, image_set: str, radius: float,
                  batch_size: int) -> dict[str, float]:  # fmt: skip
    from hrtemlake.nn import evaluate_network, summarise_scores

    scores = evaluate_network(Lake(lake, mode="a"), network, image_set, radius, batch_size)
    return summarise_scores(scores)


@flow(name="evaluate", log_prints=True)
def evaluate_flow(network: str, image_set: str, radius: float = 1.0, batch_size: int = 8,
                  lake: str | None = None) -> dict[str, float]:  # fmt: skip
    """Score ``network`` on every image of ``image_set`` into the lake; returns the medians."""
    summary = evaluate_task(lake, network, image_set, radius, batch_size)
    lines = "\n".join(f"| {k} | {v:.4g} |" for k, v in summary.items())
    create_markdown_artifact(
        key=_key("evaluate", network),
        markdown=f"**{network}** on `{image_set}` (medians over images)\n\n| score | median |\n|---|---|\n{lines}",
    )
    return summary


def _key(prefix: str, name: str) -> str:
    return f"{prefix}-{name}".lower().replace("_", "-").replace(".", "-").replace("/", "-")
