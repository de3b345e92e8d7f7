"""AdamW and SGD with the one-cycle schedule, as multi-tensor updates on a parameter list.

The same updates as ``torch.optim.AdamW`` / ``torch.optim.SGD`` with
``torch.optim.lr_scheduler.OneCycleLR`` (checked against them in the tests), written
out because constructing any ``torch.optim`` optimizer imports ``torch._dynamo``:
1.5-5 s on this machine, more than a whole quick training run.
"""

from __future__ import annotations

import math

import torch

from acmlkit.nets.recipes import Recipe

# OneCycleLR's defaults: warm-up share, initial lr = max / DIV, final = initial / FINAL_DIV,
# and the momentum (SGD) or beta1 (AdamW) cycling from MAX_MOMENTUM down and back.
PCT_START = 0.3
DIV_FACTOR = 25.0
FINAL_DIV_FACTOR = 1e4
BASE_MOMENTUM, MAX_MOMENTUM = 0.85, 0.95
BETA2 = 0.999
EPS = 1e-8


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def one_cycle(step: int, total_steps: int, max_lr: float) -> tuple[float, float]:
    """``(lr, momentum)`` at optimiser step ``step`` (0-based) of ``total_steps``.

    Cosine warm-up from ``max_lr / 25`` to ``max_lr`` over the first 30 % of the
    steps, then cosine decay to ``max_lr / 25 / 1e4``; the momentum runs the
    other way between 0.95 and 0.85.
    """
    initial = max_lr / DIV_FACTOR
    phases = (
        (float(PCT_START * total_steps) - 1, initial, max_lr, MAX_MOMENTUM, BASE_MOMENTUM),
        (float(total_steps - 1), max_lr, initial / FINAL_DIV_FACTOR, BASE_MOMENTUM,
         MAX_MOMENTUM),
    )
    start = 0.0
    for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
        if step <= end or i == len(phases) - 1:
            pct = (step - start) / (end - start)
            return _cos(lr0, lr1, pct), _cos(m0, m1, pct)
        start = end
    raise AssertionError("unreachable")


class Optimizer:
    """The recipe's optimiser and schedule over ``params`` for ``total_steps`` steps.

    Call :meth:`step` after ``backward``; :meth:`state_dict` holds everything a
    resumed run needs to continue bit for bit.
    """

    def __init__(self, params, recipe: Recipe, total_steps: int):
        self.params = [p for p in params if p.requires_grad]
        self.recipe = recipe
        self.total_steps = total_steps
        self.t = 0
        self.buffers: dict[str, list[torch.Tensor]] = {}
        if recipe.optimizer == "adamw":
            self.buffers = {"exp_avg": [torch.zeros_like(p) for p in self.params],
                            "exp_avg_sq": [torch.zeros_like(p) for p in self.params]}

    def hyper(self) -> tuple[float, float]:
        """``(lr, momentum)`` of the next step (momentum is AdamW's beta1)."""
        r = self.recipe
        if r.schedule == "onecycle":
            return one_cycle(self.t, self.total_steps, r.lr)
        return r.lr, (r.momentum if r.optimizer == "sgd" else 0.9)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        lr, momentum = self.hyper()
        self.t += 1
        params = [p for p in self.params if p.grad is not None]
        grads = [p.grad for p in params]
        index = [i for i, p in enumerate(self.params) if p.grad is not None]
        if self.recipe.optimizer == "adamw":
            self._adamw(params, grads, index, lr, momentum)
        else:
            self._sgd(params, grads, index, lr, momentum)

    def _adamw(self, params, grads, index, lr, beta1):
        m = [self.buffers["exp_avg"][i] for i in index]
        v = [self.buffers["exp_avg_sq"][i] for i in index]
        torch._foreach_mul_(params, 1 - lr * self.recipe.weight_decay)
        torch._foreach_lerp_(m, grads, 1 - beta1)
        torch._foreach_mul_(v, BETA2)
        torch._foreach_addcmul_(v, grads, grads, 1 - BETA2)
        bias1 = 1 - beta1**self.t
        bias2 = 1 - BETA2**self.t
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, math.sqrt(bias2))
        torch._foreach_add_(denom, EPS)
        torch._foreach_addcdiv_(params, m, denom, -lr / bias1)

    def _sgd(self, params, grads, index, lr, momentum):
        r = self.recipe
        if r.weight_decay:
            grads = torch._foreach_add(grads, params, alpha=r.weight_decay)
        if momentum:
            if "momentum" not in self.buffers:
                self.buffers["momentum"] = [torch.clone(g).detach() for g in grads]
                bufs = self.buffers["momentum"]
            else:
                bufs = [self.buffers["momentum"][i] for i in index]
                torch._foreach_mul_(bufs, momentum)
                torch._foreach_add_(bufs, grads)
            grads = torch._foreach_add(grads, bufs, alpha=momentum) if r.nesterov else bufs
        torch._foreach_add_(params, grads, alpha=-lr)

    def state_dict(self) -> dict:
        return {"t": self.t, "total_steps": self.total_steps,
                "buffers": {k: [b.detach().cpu() for b in v] for k, v in self.buffers.items()}}

    def load_state_dict(self, state: dict) -> None:
        if state["total_steps"] != self.total_steps:
            raise ValueError(
                f"the checkpoint's schedule has {state['total_steps']} steps, this run "
                f"{self.total_steps}"
            )
        self.t = state["t"]
        device = self.params[0].device
        self.buffers = {k: [b.to(device) for b in v] for k, v in state["buffers"].items()}
