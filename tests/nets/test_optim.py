"""The optimisers against torch.optim (AdamW, SGD, OneCycleLR) as their reference."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch

from acmlkit.nets.models import NetConfig, build_model
from acmlkit.nets.optim import Optimizer, one_cycle
from acmlkit.nets.recipes import Recipe

RECIPES = [
    Recipe(optimizer="adamw", lr=5e-3, weight_decay=0.05, schedule="onecycle"),
    Recipe(optimizer="adamw", lr=1e-3),
    Recipe(optimizer="sgd", lr=0.02, momentum=0.9, nesterov=True, weight_decay=1e-3,
           schedule="onecycle"),
    Recipe(optimizer="sgd", lr=0.01, momentum=0.0),
    Recipe(),  # the notebook's
]


def _reference(model, r: Recipe, total: int):
    if r.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=r.lr, weight_decay=r.weight_decay,
                                foreach=True)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=r.lr, momentum=r.momentum,
                              nesterov=r.nesterov, weight_decay=r.weight_decay, foreach=True)
    sched = None
    if r.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r.lr, total_steps=total,
                                                    pct_start=0.3, anneal_strategy="cos")
    return opt, sched


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: f"{r.optimizer}-{r.schedule}")
@pytest.mark.parametrize("arch", ["cnn", "mlp"])
def test_updates_equal_torch_optim(recipe, arch):
    torch.manual_seed(0)
    mine_model = build_model(NetConfig(arch, 3, 16, 16, 4))
    ref_model = copy.deepcopy(mine_model)
    total = 17
    mine = Optimizer(mine_model.parameters(), recipe, total)
    ref, sched = _reference(ref_model, recipe, total)
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 4, (8,))
    for _ in range(total):
        for model, opt in ((mine_model, mine), (ref_model, ref)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        if sched is not None:
            sched.step()
    for p, q in zip(mine_model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_schedule_matches_one_cycle_lr():
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=50)
    for step in range(50):
        lr, beta1 = one_cycle(step, 50, 0.01)
        assert lr == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        assert beta1 == pytest.approx(opt.param_groups[0]["betas"][0], rel=1e-12)
        opt.step()
        sched.step()


def test_state_round_trip_continues_identically():
    torch.manual_seed(1)
    a = build_model(NetConfig("mlp", 1, 8, 8, 3))
    b = copy.deepcopy(a)
    recipe = RECIPES[0]
    x, y = torch.randn(6, 1, 8, 8), torch.randint(0, 3, (6,))

    def steps(model, opt, n):
        for _ in range(n):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

    whole = Optimizer(a.parameters(), recipe, 10)
    steps(a, whole, 10)
    first = Optimizer(b.parameters(), recipe, 10)
    steps(b, first, 4)
    second = Optimizer(b.parameters(), recipe, 10)
    second.load_state_dict(first.state_dict())
    steps(b, second, 6)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="schedule has 10 steps, this run 11"):
        Optimizer(b.parameters(), recipe, 11).load_state_dict(first.state_dict())


def test_training_never_imports_torch_dynamo():
    code = ("import sys; from acmlkit.nets.experiments import TrainConfig, run; "
            "run(TrainConfig(arch='mlp', n_train=64, n_test=16, epochs=1)); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "False"
