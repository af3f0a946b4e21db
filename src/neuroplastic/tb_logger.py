"""TensorBoard logging of a run, for users who watch long runs live.

``TensorBoardLogger(logdir, run_name)`` writes to ``logdir/run_name``: the training loss of every
step (``loss/task_<t>`` and ``loss/all`` against the global step), after each task the accuracy
on every task (``accuracy/task_<j>``) and the average accuracy on the tasks seen so far
(``accuracy/seen_average``) against the number of tasks trained, and the accuracy matrix so far
as an image (``accuracy_matrix``). Hook it into the engine with ``on_step=logger.on_step`` and
``on_task_end=logger.on_task_end``; ``neuroplastic sweep --tensorboard DIR`` does so for every run.
Needs the ``tensorboard`` package.
"""

from __future__ import annotations

from pathlib import Path


class TensorBoardLogger:
    def __init__(self, logdir: str | Path, run_name: str):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            from .errors import ConfigError

            raise ConfigError("TensorBoard logging needs the tensorboard package: "
                              "pip install tensorboard") from None
        self.writer = SummaryWriter(log_dir=str(Path(logdir) / run_name))
        self.step = 0

    def on_step(self, task: int, loss: float) -> None:
        self.writer.add_scalar(f"loss/task_{task}", loss, self.step)
        self.writer.add_scalar("loss/all", loss, self.step)
        self.step += 1

    def on_task_end(self, task_index: int, engine_state) -> None:
        row = engine_state.accuracy_matrix[-1]
        tasks_trained = task_index + 1
        for j, acc in enumerate(row):
            self.writer.add_scalar(f"accuracy/task_{j}", acc, tasks_trained)
        seen = row[:tasks_trained]
        self.writer.add_scalar("accuracy/seen_average", sum(seen) / len(seen), tasks_trained)
        self.writer.add_image("accuracy_matrix", matrix_image(engine_state.accuracy_matrix),
                              tasks_trained, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def matrix_image(matrix: list[list[float]]):
    """The accuracy matrix rendered as an RGB uint8 array (H, W, 3), annotated in percent."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: the process's backend is left alone

    size = 1.2 + 0.45 * max(len(matrix[0]), 1)
    fig = Figure(figsize=(size, size * 0.9), dpi=80)
    FigureCanvasAgg(fig)  # drawn to pixels below
    ax = fig.subplots()
    ax.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xlabel("task")
    ax.set_ylabel("after task")
    if len(matrix[0]) <= 10:
        for i, row in enumerate(matrix):
            for j, v in enumerate(row):
                ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if v < 0.6 else "black")
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    return image
