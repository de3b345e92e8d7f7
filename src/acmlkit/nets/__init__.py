"""The notebook's CNN and MLP on CIFAR-10-like images, and the pixel-permutation experiment.

- :mod:`acmlkit.nets.data`: official CIFAR-10, image folders and archives, synthetic shapes.
- :mod:`acmlkit.nets.torchdata`: the same images as a ``torch.utils.data.Dataset`` or tensors.
- :mod:`acmlkit.nets.models`: the CNN, the MLP and a CNN-sized MLP, from a ``NetConfig``.
- :mod:`acmlkit.nets.permutations`: fixed, per-image, the notebook's and recovered layouts.
- :mod:`acmlkit.nets.recipes`: how to train (``Recipe``), the named recipes, ``auto``.
- :mod:`acmlkit.nets.trainer`: the ``Trainer`` loop on whole tensors, on any device.
- :mod:`acmlkit.nets.optim`: AdamW and SGD with the one-cycle schedule (no torch._dynamo).
- :mod:`acmlkit.nets.inference`: ``TrainedModel``, batched logits, test-time flips.
- :mod:`acmlkit.nets.checkpoint`: model files and checkpoints with a version and checksum.
- :mod:`acmlkit.nets.devices`: ``--device cpu|cuda|mps|auto``.
- :mod:`acmlkit.nets.evaluation`: accuracy, per-class accuracy, confusion matrix.
- :mod:`acmlkit.nets.experiments`: ``run`` (one training) and the permutation study.
- :mod:`acmlkit.nets.figures`: figures drawn from saved results.
"""

import os

# On a shared CPU, OpenMP threads that spin while they wait stall torch badly when
# another process holds a core: measured on 2 shared cores, a CNN epoch took 85 s
# with spinning and 18 s with sleeping waits (benchmarks/RESULTS.md). Only effective
# if torch has not been imported yet; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
