"""The notebook's CNN and MLP on CIFAR-10-like images, and the pixel-permutation experiment.

- :mod:`acmlkit.nets.data`: official CIFAR-10, image folders and archives, synthetic shapes.
- :mod:`acmlkit.nets.models`: the CNN and MLP, sized from a :class:`NetConfig`.
- :mod:`acmlkit.nets.permutations`: fixed, per-image and the notebook's permutations.
- :mod:`acmlkit.nets.training`: recipes, the :class:`Trainer`, checkpoints, model files.
- :mod:`acmlkit.nets.evaluation`: accuracy, per-class accuracy, confusion matrix.
- :mod:`acmlkit.nets.experiments`: one training run and the permutation study.
- :mod:`acmlkit.nets.figures`: figures drawn from saved results.
"""

import os

# On a shared CPU, OpenMP threads that spin while they wait stall torch badly when
# another process holds a core: measured on 2 shared cores, a CNN epoch took 85 s
# with spinning and 18 s with sleeping waits (benchmarks/RESULTS.md). Only effective
# if torch has not been imported yet; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
