"""How long a sweep's points take: optimizer steps as the Trainer counts them, a cost model
measured for the default model, and the grid's finished points, which scale it to this machine."""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from pathlib import Path

from semantic_tube.experiments.grid import Point
from semantic_tube.experiments.sweep.point import point_timing
from semantic_tube.run_folder import examples_per_step

RECENT = 3  # the most recently finished points that time the rest (TimeModel)


@dataclass(frozen=True)
class CostModel:
    """Seconds of a run as measured for the default model (SmolLM2-135M, max_length 256) on 2 CPU
    cores: 4.4 s per step of 8 examples with one forward pass, 200 test prompts scored in about a
    minute. Absolute only for that model and machine; for any other, a relative weight that the
    grid's finished points scale (TimeModel)."""

    seconds_per_example: float = 4.4 / 8
    seconds_per_prompt: float = 60 / 200

    def describe(self) -> str:
        return (
            f"estimate: {self.seconds_per_example:.2f} s per training example and {self.seconds_per_prompt:.2f} s per "
            "test prompt, as measured for the default model on 2 CPU cores; no finished point to time yet"
        )


def launcher_processes(launcher: tuple[str, ...]) -> int:
    """Training processes a torchrun-style launcher starts (--nproc_per_node x --nnodes); 1 without one."""
    count = 1
    for name in ("nproc_per_node", "nnodes"):
        value = _option(launcher, name)
        if value and value.isdigit():
            count *= int(value)
    return count


def _option(words: tuple[str, ...], name: str) -> str | None:
    spellings = {f"--{name}", f"--{name.replace('_', '-')}"}
    for index, word in enumerate(words):
        key, equals, value = word.partition("=")
        if key in spellings:
            return value if equals else (words[index + 1] if index + 1 < len(words) else None)
    return None


def estimate_steps(config: dict, processes: int = 1) -> int | None:
    """Optimizer steps, as the Trainer counts them with the data split over `processes`; None
    when the data size is unknown (a file not here yet)."""
    if float(config.get("max_steps", -1)) > 0:
        return int(config["max_steps"])
    examples = train_examples(config)
    if examples is None:
        return None
    kept = math.ceil(max(1, math.ceil(float(config.get("train_fraction", 1)) * examples)) / processes)
    batches = math.ceil(kept / int(config.get("per_device_train_batch_size", 8)))  # the Trainer's defaults
    per_epoch = max(batches // int(config.get("gradient_accumulation_steps", 1)), 1)
    return math.ceil(float(config.get("num_train_epochs", 3.0)) * per_epoch)


def train_examples(config: dict) -> int | None:
    """Lines of train_file, or the training split of the generated NL-RX data; at most max_train_examples."""
    if config.get("train_file"):
        count = count_lines(Path(config["train_file"]))
    else:
        count = _nlrx_split(config)[0]
    limit = config.get("max_train_examples")
    return min(count, int(limit)) if count is not None and limit else count


def test_prompts(config: dict) -> int | None:
    """Prompts the final task evaluation scores: its file as `stp train` picks it, cut to eval_task_limit."""
    if not config.get("eval_task"):
        return 0
    limit = config.get("eval_task_limit")
    if config.get("eval_task_file") or config.get("train_file"):
        count = count_lines(Path(str(config.get("eval_task_file") or config.get("eval_file"))))
    else:
        count = _nlrx_split(config)[1]
    return min(count, limit) if count is not None and limit else count if count is not None else limit


def count_lines(path: Path) -> int | None:
    """Non-blank lines of a data file, read as bytes: a line that is not UTF-8 is `stp train`'s
    to report (file:line: encoding), never a crash of the sweep. None when there is no such file."""
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _nlrx_split(config: dict) -> tuple[int, int]:
    """(train, test) sizes of the NL-RX data `stp train` generates when there is no train_file."""
    from semantic_tube.data.nlrx import DEFAULT_EXAMPLES, generate_nlrx

    n = int(config.get("nlrx_examples", DEFAULT_EXAMPLES))
    fraction = inspect.signature(generate_nlrx).parameters["test_fraction"].default
    test = min(n - 1, max(1, round(n * fraction)))
    return n - test, test


def cost_model_seconds(config: dict, forward_passes: int = 1, processes: int = 1, model: CostModel = CostModel()) -> float | None:
    """The cost model's seconds for a run: its training examples per process times its forward
    passes per step, plus its test prompts. None when the data size is unknown."""
    steps = estimate_steps(config, processes)
    if steps is None:
        return None
    return steps * examples_per_step(config) * forward_passes * model.seconds_per_example + (test_prompts(config) or 0) * model.seconds_per_prompt


@dataclass(frozen=True)
class TimeModel:
    """Seconds each point of a grid takes. Every point weighs its cost-model seconds (so a mask or
    LLM-JEPA point, with its extra forward passes, weighs more than an NTP one); the grid's
    RECENT most recently finished points set the scale (their wall time per unit of weight), so a
    grid of another model or machine is timed by its own runs, and a sweep resumed on a quieter or
    busier machine by what it takes now. Before any has finished, the cost model's seconds stand as
    they are for the default model, and no time is guessed for any other."""

    weights: dict[str, float | None]  # point id -> cost-model seconds (None: data size unknown)
    processes: int  # training processes per run (the cost model's rates are for one)
    seconds_per_weight: float | None  # from the finished points; None before the first
    mean_seconds: float | None  # mean wall time of a finished point, for points without a weight
    finished: int

    @classmethod
    def of(cls, points: list[Point], out: Path, forward_passes: dict[str, int], processes: int = 1) -> TimeModel:
        weights = {p.point_id: cost_model_seconds(p.config, forward_passes.get(p.point_id, 1), processes) for p in points}
        timing = {p.point_id: point_timing(out / p.point_id) for p in points}
        timed = {point_id: seconds for point_id, (seconds, _) in timing.items() if seconds is not None and seconds > 0}
        weighed = sorted((point_id for point_id in timed if weights[point_id]), key=lambda point_id: timing[point_id][1])[-RECENT:]
        scale = sum(timed[i] for i in weighed) / sum(weights[i] for i in weighed) if weighed else None
        mean = sum(timed.values()) / len(timed) if timed else None
        return cls(weights, processes, scale, mean, len(timed))

    def seconds(self, point: Point) -> float | None:
        weight = self.weights.get(point.point_id)
        if self.seconds_per_weight is not None and weight is not None:
            return self.seconds_per_weight * weight
        if self.finished:
            return self.mean_seconds
        default_model = not point.config.get("model_name_or_path")  # where the cost model was measured
        return weight if default_model and self.processes == 1 else None

    def describe(self) -> str:
        if self.finished:
            which = f"{self.finished} finished point(s)" if self.finished <= RECENT else f"the {RECENT} most recently finished of {self.finished} points"
            return f"scaled from {which} by each point's steps, forward passes per step and test prompts"
        return CostModel().describe()


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"

