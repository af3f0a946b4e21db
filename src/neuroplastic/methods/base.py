"""The method contract (Mammoth-style, small and explicit) and the default training step.

The engine owns the loop and calls, for every task: ``begin_task``, ``observe`` on each
minibatch, ``end_task``, then ``predict`` on every task's test set (and ``resume`` once after
restoring a checkpoint). A method owns its model, optimizer, buffers and hyper-parameters. The
default ``observe`` is one cross-entropy step on the scenario's active output units plus
``penalty()``, so a regulariser only writes ``penalty`` and a replay method only changes the
batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..plasticity import OptimizerFactory
from ..plasticity.synapse_state import SynapseState
from ..scenarios.task import StreamInfo, Task
from .state import FORMAT, StateError, pack, unpack


@dataclass
class NoParams:
    """This method has no hyper-parameters."""


class Method:
    #: hyper-parameter dataclass (fields with defaults citing their source)
    Params: ClassVar[type] = NoParams
    #: True when predictions need the task id at test (rejected in domain/class scenarios)
    needs_task_id_at_test: ClassVar[bool] = False
    #: True when the method uses task identity at test in any way (e.g. per-task BatchNorm);
    #: recorded in the run record so such results are never mistaken for task-free ones
    uses_task_identity: ClassVar[bool] = False
    #: used when the config names no model / optimizer (e.g. a binarized network)
    default_model: ClassVar[dict[str, Any] | None] = None
    default_optimizer: ClassVar[dict[str, Any] | None] = None
    #: attributes a checkpoint leaves out: caches a method rebuilds on its own (the config's
    #: ``params``, ``info``, ``device`` and the optimizer factory are always left out)
    transient: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        model: nn.Module,
        info: StreamInfo,
        params: Any,
        optimizer: OptimizerFactory,
        device: torch.device | str = "cpu",
    ):
        self.model = model.to(device)
        self.info = info
        self.params = params
        self.device = torch.device(device)
        self.optimizer_factory = optimizer
        self.optimizer = optimizer.build(self.trainable_parameters())
        self.seen_tasks = 0  # tasks whose training has begun
        self._masks: dict[tuple[int | None, int], Tensor | None] = {}
        #: the model's torch.compile'd call when ``compile_model`` was asked for (else None)
        self._compiled_model = None

    # --- the contract -------------------------------------------------------------------
    def begin_task(self, task: Task) -> None:
        self.seen_tasks = task.index + 1
        if task.index > 0 and self.optimizer_factory.reset == "per_task":
            self.optimizer = self.optimizer_factory.build(self.trainable_parameters())
        # update rules whose state changes at task boundaries (CLASSP's scaling phase,
        # metaplasticity's per-item scale) implement begin_task(index) on the optimizer
        hook = getattr(self.optimizer, "begin_task", None)
        if hook is not None:
            hook(task.index)
        self.model.train()

    def observe(self, x: Tensor, y: Tensor, task_id: int) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(x, y, task_id)
        penalty = self.penalty()
        if not isinstance(penalty, float) or penalty != 0.0:  # no extra graph node when unused
            loss = loss + penalty
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def end_task(self, task: Task) -> None:
        pass

    def predict(self, x: Tensor, task_id: int | None) -> Tensor:
        return self.logits(x, task_id)

    #: set (to a one-line description) by a method that can be told a sample's task through a
    #: mechanism of its own in a scenario that gives no task id at test (per-task BatchNorm, a
    #: task's own engram): the engine then also measures accuracy that way, recorded apart from
    #: the task-free accuracy matrix in ``method_extra.task_identity``
    task_identity_note: str | None = None

    def predict_with_task_identity(self, x: Tensor, task_id: int) -> Tensor:
        """Logits with the task of ``x`` given through the method's own mechanism (see
        ``task_identity_note``)."""
        raise NotImplementedError(f"{type(self).__name__} has no task-identity mechanism")

    def resume(self, tasks: list[Task]) -> None:
        """Called once a checkpoint has been loaded into this freshly built method, with the
        stream's tasks: rebuild what ``transient`` left out (references to tasks are linked
        again by the loader itself)."""

    # --- checkpoints: plain data, loaded into a freshly built method (methods/state.py) ---
    def state_dict(self) -> dict[str, Any]:
        """Every attribute as weights-only data (modules and optimizers as their state dicts,
        tasks as their index), the config-derived ones and ``transient`` left out."""
        skip = {"info", "params", "device", "optimizer_factory", "_masks", "_compiled_model",
                *self.transient}
        seen: dict[int, str] = {}
        name = type(self).__name__
        attributes = {k: pack(v, f"{name}.{k}", seen) for k, v in vars(self).items()
                      if k not in skip}
        return {"format": FORMAT, "class": _class_path(type(self)), "attributes": attributes}

    def load_state_dict(self, state: dict[str, Any], tasks: list[Task]) -> None:
        """Load a :meth:`state_dict` into this method, built from the same config; modules and
        optimizers are loaded in place (optimizers last, so they find the loaded modules)."""
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise StateError("not a method state written by this version of neuroplastic")
        if state.get("class") != _class_path(type(self)):
            raise StateError(f"the checkpoint was written by method class {state.get('class')}, "
                             f"this run builds {_class_path(type(self))} (renamed or another "
                             "method)")
        name = type(self).__name__
        modules: dict[str, Any] = {}
        items = sorted(state["attributes"].items(),
                       key=lambda kv: isinstance(kv[1], dict) and "__optimizer__" in kv[1])
        for key, data in items:
            value = unpack(data, getattr(self, key, None), f"{name}.{key}", tasks, modules,
                           self.model)
            setattr(self, key, value)
        self._masks = {}

    def record_extra(self) -> dict[str, Any]:
        """Method-specific measurements for the run record (e.g. growth per task)."""
        return {}

    # --- the synapse atlas (evaluators/synapse_atlas.py) --------------------------------
    def synapse_weights(self) -> dict[str, Tensor]:
        """The synapses whose change the atlas measures, by name: every trainable weight
        tensor (>= 2-D; biases and BatchNorm vectors are not synapses) of the model."""
        trainable = {id(p) for p in self.trainable_parameters()}
        return {n: p for n, p in self.model.named_parameters()
                if id(p) in trainable and p.dim() >= 2}

    def synapse_state(self) -> dict[str, SynapseState]:
        """The method's own per-synapse plasticity state (``plasticity/synapse_state.py``),
        read at the end of each task. Here: the update rule's, for rules that keep one
        (CLASSP, Adam_meta, metaplastic SGD), and nothing else; fine-tuning has no state, the
        atlas measures its weight change itself. Methods with state of their own add it."""
        hook = getattr(self.optimizer, "synapse_state", None)
        if hook is None:
            return {}
        return hook({id(p): n for n, p in self.model.named_parameters()})

    def named_flat(self, flat: Tensor) -> dict[str, Tensor]:
        """A flat tensor over ``trainable_parameters()`` (EWC's, SI's and MAS's layout) as views
        shaped like the weight tensors (>= 2-D) of the model, by name: no copy."""
        names = {id(p): n for n, p in self.model.named_parameters()}
        out, offset = {}, 0
        for p in self.trainable_parameters():
            part = flat[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
            if p.dim() >= 2 and id(p) in names:
                out[names[id(p)]] = part
        return out

    def state_bytes(self) -> int:
        """Bytes the method keeps beyond the model: its own tensors plus optimizer state."""
        skip = {id(self.model), id(self.optimizer), id(self.info), id(self._masks)}
        owned = [v for v in vars(self).values() if id(v) not in skip]
        return tensor_bytes(owned, exclude=self.model) + optimizer_state_bytes(self.optimizer)

    # --- helpers shared by methods ------------------------------------------------------
    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def logit_mask(self, task_id: int | None) -> Tensor | None:
        key = (task_id, self.seen_tasks)
        if key not in self._masks:
            mask = self.info.logit_mask(task_id, self.seen_tasks)
            self._masks[key] = None if mask is None else mask.to(self.device)
        return self._masks[key]

    def mask_logits(self, logits: Tensor, task_id: int | None) -> Tensor:
        mask = self.logit_mask(task_id)
        return logits if mask is None else logits.masked_fill(~mask, float("-inf"))

    def logits(self, x: Tensor, task_id: int | None) -> Tensor:
        """Model output over the scenario's output units, inactive units set to -inf."""
        model = self._compiled_model or self.model
        return self.mask_logits(model(x, task_id), task_id)

    def compile_model(self) -> None:
        """Call the model through ``torch.compile`` (``train.compile: true``): forward and
        backward become generated kernels, the module and its state dict stay as they are (so
        checkpoints, copies of the model and code that calls ``self.model`` directly are
        unaffected). Not bit-identical to the eager model; where compilation fails, the first
        call falls back to the eager model with one warning."""
        compiled = torch.compile(self.model)

        def call(x: Tensor, task_id: int | None) -> Tensor:
            try:
                return compiled(x, task_id)
            except Exception as exc:  # noqa: BLE001 (no compiler, unsupported op: fall back)
                import logging

                logging.getLogger(__name__).warning(
                    "train.compile: torch.compile failed (%s); using the eager model",
                    str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
                self._compiled_model = None
                return self.model(x, task_id)

        self._compiled_model = call

    def loss(self, x: Tensor, y: Tensor, task_id: int) -> Tensor:
        return F.cross_entropy(self.logits(x, task_id), y)

    def penalty(self) -> Tensor | float:
        """Regularisation term added to the loss of every step (0 by default)."""
        return 0.0


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def tensor_bytes(obj: Any, exclude: nn.Module | None = None, _seen: set[int] | None = None) -> int:
    """Bytes of every tensor reachable from ``obj`` (lists, dicts, modules), each counted once."""
    seen = _seen if _seen is not None else set()
    if exclude is not None and not seen:
        seen.update(t.data_ptr() for t in list(exclude.parameters()) + list(exclude.buffers()))
    if isinstance(obj, Tensor):
        if obj.data_ptr() in seen or obj.numel() == 0:
            return 0
        seen.add(obj.data_ptr())
        return obj.numel() * obj.element_size()
    if isinstance(obj, nn.Module):
        return sum(
            tensor_bytes(t, None, seen) for t in list(obj.parameters()) + list(obj.buffers())
        )
    if isinstance(obj, dict):
        return sum(tensor_bytes(v, None, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v, None, seen) for v in obj)
    if hasattr(obj, "__dataclass_fields__"):
        return sum(tensor_bytes(getattr(obj, f), None, seen) for f in obj.__dataclass_fields__)
    return 0


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    return tensor_bytes([s for s in optimizer.state.values()])
