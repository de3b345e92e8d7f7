"""acmlkit: an ML course's exercise session turned into tested, measured software.

Subpackages, one per part of the notebook:

- :mod:`acmlkit.mixture`: Gaussian densities, responsibilities and EM.
- :mod:`acmlkit.factorization`: matrix completion by alternating least squares.
- :mod:`acmlkit.nets`: the notebook's CNN and MLP, training and pixel permutations.
"""

__version__ = "0.1.0"
