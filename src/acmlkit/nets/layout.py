"""Recovering the 2-D layout of pixel positions hidden by a fixed permutation.

A fixed permutation (:func:`acmlkit.nets.permutations.permute_pixels`) destroys no
information, only the layout a CNN relies on. Neighbouring pixels of natural images
are the most correlated pairs, so the layout can be read back from pixel statistics
(Le Roux et al. 2007, "Learning the 2-D topology of images"):

1. the correlation between every pair of positions over the images (channels pooled);
2. the graph linking each position to the ones among its ``k`` most correlated that
   also count it among theirs (nearly exactly the 4-neighbour grid graph);
3. a 2-D Laplacian eigenmap of that graph: globally right, locally distorted;
4. integration of the edge directions: each edge is rounded to one grid step
   (left, right, up or down) in the eigenmap's frame, and positions are the
   robust least-squares solution of ``c_j - c_i = step_ij``, which undoes the
   eigenmap's distortion because only local directions are used;
5. assignment of positions to grid cells (``scipy.optimize.linear_sum_assignment``);
6. greedy swaps of two cells while they increase the number of grid neighbours that
   are graph neighbours (correlations break ties);
7. the upright one of the symmetric solutions, by two regularities of photographs.

Composition of permutations. Images permuted by ``p`` hold ``x_p[j] = x[p[j]]``;
a recovered ``order`` is applied the same way, ``y[k] = x_p[order[k]] = x[p[order[k]]]``,
so cell ``k`` of the recovered grid holds original pixel ``q[k]`` with
``q = permutation[order]``. The layout is recovered when ``q`` is a symmetry of the
grid (identity, flips, rotations by 180 degrees, and by 90 degrees or a transpose when
square): nothing in the pixel statistics tells those apart.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components

from acmlkit.validation import check_int

MAX_IMAGES = 5_000  # enough for stable correlations (a 1024 x 1024 matrix on CIFAR-10)
N_NEIGHBOURS = 4
_ROBUST_SCALE = 0.2  # grid steps: edges whose direction misses a step by more weigh less
_ROBUST_ITERATIONS = 10
_TIE_BREAK = 0.01  # weight of correlations against graph edges in the swap objective


def grid_edges(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The 4-neighbour pairs of an ``height x width`` grid in row-major order.

    Returns
    -------
    a, b : ndarray of int64, shape (2 * height * width - height - width,)
        Cell ``a[e]`` and cell ``b[e]`` are horizontal or vertical neighbours.
    """
    cells = np.arange(height * width).reshape(height, width)
    a = np.concatenate([cells[:, :-1].ravel(), cells[:-1, :].ravel()])
    b = np.concatenate([cells[:, 1:].ravel(), cells[1:, :].ravel()])
    return a, b


def _check_grid(height, width) -> int:
    check_int(height, "height", low=1)
    check_int(width, "width", low=1)
    if height * width < 4:
        raise ValueError(f"a layout needs at least 4 pixels, got {height}x{width}")
    return height * width


def _check_permutation(values, name: str, n_pixels: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.shape != (n_pixels,) or arr.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must be {n_pixels} integers (a permutation of the pixel positions), "
            f"got {arr.dtype} of shape {arr.shape}"
        )
    if not np.array_equal(np.sort(arr), np.arange(n_pixels)):
        raise ValueError(f"{name} must hold each of 0..{n_pixels - 1} exactly once")
    return arr.astype(np.int64)


def neighbour_share(
    permutation: np.ndarray, order: np.ndarray, height: int, width: int
) -> float:
    """Share of the original 4-neighbour pairs that are 4-neighbours again after ``order``.

    Parameters
    ----------
    permutation : ndarray of int, shape (height * width,)
        The permutation the images were given, as in ``permute_pixels(x, permutation)``.
    order : ndarray of int, shape (height * width,)
        A recovered order, applied to the permuted images as ``x_p[..., order]``.

    Returns
    -------
    float in [0, 1]
        1.0 when ``permutation[order]`` is a symmetry of the grid; about
        ``4 / (height * width)`` for a random ``order``.
    """
    n_pixels = _check_grid(height, width)
    permutation = _check_permutation(permutation, "permutation", n_pixels)
    order = _check_permutation(order, "order", n_pixels)
    cell_of = np.argsort(permutation[order])  # original pixel -> recovered cell
    a, b = grid_edges(height, width)
    ra, ca = np.divmod(cell_of[a], width)
    rb, cb = np.divmod(cell_of[b], width)
    return float(np.mean(np.abs(ra - rb) + np.abs(ca - cb) == 1))


def pixel_correlations(images: np.ndarray) -> np.ndarray:
    """Correlation between every pair of pixel positions, averaged over channels.

    Parameters
    ----------
    images : ndarray, shape (n_images, channels, n_pixels)

    Returns
    -------
    ndarray of float64, shape (n_pixels, n_pixels)
        Symmetric; a constant position correlates 0 with every other.
    """
    n, channels, n_pixels = images.shape
    corr = np.zeros((n_pixels, n_pixels))
    for c in range(channels):
        x = images[:, c].astype(np.float64)
        x -= x.mean(axis=0)
        std = x.std(axis=0)
        x /= np.where(std > 0, std, 1.0)
        corr += x.T @ x
    return corr / (n * channels)


def _neighbour_graph(corr: np.ndarray, k: int, mutual: bool) -> np.ndarray:
    """Boolean ``(P, P)``: each position linked to its ``k`` most correlated others."""
    n_pixels = len(corr)
    ranked = corr.copy()
    np.fill_diagonal(ranked, -np.inf)
    top = np.argpartition(-ranked, k - 1, axis=1)[:, :k]
    graph = np.zeros((n_pixels, n_pixels), dtype=bool)
    graph[np.repeat(np.arange(n_pixels), k), top.ravel()] = True
    return graph & graph.T if mutual else graph | graph.T


def _connected(graph: np.ndarray) -> bool:
    return connected_components(sparse.csr_matrix(graph), directed=False)[0] == 1


def _eigenmap(graph: np.ndarray) -> np.ndarray:
    """The two smoothest non-constant eigenvectors of the graph Laplacian, ``(P, 2)``."""
    adjacency = graph.astype(np.float64)
    laplacian = np.diag(adjacency.sum(axis=1)) - adjacency
    _, vectors = np.linalg.eigh(laplacian)
    return vectors[:, 1:3]


def _integrate_steps(coords: np.ndarray, graph: np.ndarray) -> np.ndarray:
    """Grid coordinates ``(P, 2)`` whose differences along graph edges are single grid steps.

    Each pass turns the frame so that edges line up with the axes (their angles
    modulo 90 degrees), rounds every edge to the step it is closest to and solves
    the weighted least-squares problem ``c_j - c_i = step_ij``; edges that fit
    their step badly (a wrong edge, a border) weigh less in the next pass.
    """
    n_pixels = len(coords)
    i, j = np.nonzero(np.triu(graph))
    rows = np.arange(len(i))
    incidence = sparse.csr_matrix(
        (np.r_[np.ones(len(i)), -np.ones(len(i))], (np.r_[rows, rows], np.r_[j, i])),
        shape=(len(i), n_pixels),
    )
    weights = np.ones(len(i))
    for it in range(_ROBUST_ITERATIONS):
        delta = coords[j] - coords[i]
        angle = np.angle(np.sum(weights * np.exp(4j * np.arctan2(delta[:, 1], delta[:, 0])))) / 4
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        delta = delta @ turn
        horizontal = np.abs(delta[:, 0]) >= np.abs(delta[:, 1])
        step = np.zeros_like(delta)
        step[horizontal, 0] = np.sign(delta[horizontal, 0])
        step[~horizontal, 1] = np.sign(delta[~horizontal, 1])
        if it:
            misfit = np.linalg.norm(delta - step, axis=1)
            weights = 1.0 / (1.0 + (misfit / _ROBUST_SCALE) ** 2)
        weighted = sparse.diags(weights) @ incidence
        # A tiny ridge pins the free translation of the solution.
        normal = (incidence.T @ weighted + 1e-6 * sparse.eye(n_pixels)).toarray()
        coords = np.linalg.solve(normal, weighted.T @ step)
    return coords


def _assign_cells(coords: np.ndarray, height: int, width: int) -> np.ndarray:
    """``order`` (cell -> position) placing positions at ``coords`` on the nearest free cells."""
    coords = coords - coords.mean(axis=0)
    extent = coords.max(axis=0) - coords.min(axis=0)
    if (extent[0] >= extent[1]) != (width >= height):
        coords = coords[:, ::-1]
    rows, cols = np.divmod(np.arange(height * width), width)
    cells = np.c_[cols - (width - 1) / 2, rows - (height - 1) / 2]
    cost = ((coords[:, None, :] - cells[None, :, :]) ** 2).sum(axis=-1)
    positions, assigned = linear_sum_assignment(cost)
    order = np.empty(height * width, dtype=np.int64)
    order[assigned] = positions
    return order


def _refine_swaps(order: np.ndarray, score: np.ndarray, height: int, width: int) -> np.ndarray:
    """Swap two cells' positions while it increases the summed ``score`` of grid neighbours.

    ``score`` is ``(P, P)`` between positions. Each step takes the best swap of
    all ``P^2``: the gain of moving the occupant of cell ``m`` to cell ``k`` is
    what it scores with ``k``'s neighbours minus what ``k``'s occupant scored.
    """
    n_pixels = height * width
    a, b = grid_edges(height, width)
    adjacency = sparse.csr_matrix(
        (np.ones(2 * len(a)), (np.r_[a, b], np.r_[b, a])), shape=(n_pixels, n_pixels)
    )
    adjacent = adjacency.toarray()
    order = order.copy()
    cell_score = score[np.ix_(order, order)]
    np.fill_diagonal(cell_score, 0.0)
    for _ in range(50 * n_pixels):
        around = adjacency @ cell_score  # around[k, m]: occupant m's score beside k's neighbours
        own = np.diag(around)
        # A swap of two neighbours keeps the edge between them: add it back twice.
        gain = around - own[:, None] + around.T - own[None, :] + 2 * adjacent * cell_score
        k, m = np.unravel_index(np.argmax(gain), gain.shape)
        if gain[k, m] <= 1e-9:
            break
        order[[k, m]] = order[[m, k]]
        cell_score[[k, m]] = cell_score[[m, k]]
        cell_score[:, [k, m]] = cell_score[:, [m, k]]
    return order


def recover_layout(
    images: np.ndarray,
    height: int,
    width: int,
    *,
    n_neighbours: int = N_NEIGHBOURS,
    max_images: int = MAX_IMAGES,
    orient: bool = True,
) -> np.ndarray:
    """Recover the grid layout of pixel positions from pixel-permuted images.

    Parameters
    ----------
    images : ndarray, shape (n_images, channels, height * width)
        Images under one unknown fixed permutation (``(n, C, H, W)`` is accepted
        too and flattened). At most ``max_images`` evenly spaced images are used,
        so class-sorted arrays still contribute every class.
    height, width : int
        The grid the positions came from.
    n_neighbours : int
        How many most-correlated positions a position may link to (4 on a grid).
    max_images : int
    orient : bool
        Choose, among the grid's symmetries, the upright one photographs suggest
        (rows correlate more than columns, brighter on top; see :func:`_orient`).
        It changes which symmetry comes back, never the neighbour share.

    Returns
    -------
    order : ndarray of int64, shape (height * width,)
        A permutation such that ``images[..., order]`` reshaped to ``(height, width)``
        is the original layout up to a symmetry of the grid (see the module
        docstring for how it composes with the hidden permutation).
    """
    n_pixels = _check_grid(height, width)
    check_int(n_neighbours, "n_neighbours", low=2, high=n_pixels - 1)
    check_int(max_images, "max_images", low=2)
    images = np.asarray(images)
    if images.ndim == 4:
        images = images.reshape(*images.shape[:2], -1)
    if images.ndim != 3 or images.shape[2] != n_pixels or images.dtype.kind not in "biuf":
        raise ValueError(
            f"images must be numeric of shape (n_images, channels, {n_pixels}) for a "
            f"{height}x{width} grid, got {images.dtype} of shape {images.shape}"
        )
    if len(images) < 2:
        raise ValueError(f"recovering a layout needs at least 2 images, got {len(images)}")
    if not np.isfinite(images).all():
        raise ValueError("images contain NaN or infinity")
    if len(images) > max_images:
        images = images[np.linspace(0, len(images) - 1, max_images).round().astype(int)]
    corr = pixel_correlations(images)
    # Mutual links are nearly exactly the grid; the one-sided ones keep the graph in
    # one piece where statistics are weak (e.g. few or very noisy images).
    graph = _neighbour_graph(corr, n_neighbours, mutual=True)
    if not _connected(graph):
        graph = _neighbour_graph(corr, n_neighbours, mutual=False)
    if not _connected(graph):
        raise ValueError(
            f"the {n_neighbours} most correlated positions do not link all {n_pixels} pixels "
            "into one piece: the images are too few or hold no spatial correlation"
        )
    coords = _integrate_steps(_eigenmap(graph), graph)
    order = _assign_cells(coords, height, width)
    score = _neighbour_graph(corr, n_neighbours, mutual=False) + _TIE_BREAK * corr
    order = _refine_swaps(order, score, height, width)
    return _orient(order, images, corr, height, width) if orient else order


def _orient(
    order: np.ndarray, images: np.ndarray, corr: np.ndarray, height: int, width: int
) -> np.ndarray:
    """Turn a recovered ``order`` upright, as photographs are.

    Neighbours along a row correlate more than along a column (on CIFAR-10, 0.930
    against 0.920: horizontal structure dominates), so a square grid is transposed
    when its columns correlate more; and the upper half is brighter (skies: 130
    against 116 on CIFAR-10's 0..255 scale), so a grid darker on top is flipped
    upside down. Left and right stay unknown, which a left-right flip augmentation
    does not mind.
    """
    cells = np.arange(height * width).reshape(height, width)
    if height == width:
        along_rows = corr[order[cells[:, :-1]], order[cells[:, 1:]]].mean()
        along_columns = corr[order[cells[:-1]], order[cells[1:]]].mean()
        if along_columns > along_rows:
            order = order[cells.T.ravel()]
    brightness = images.mean(axis=(0, 1), dtype=np.float64)[order].reshape(height, width)
    half = height // 2
    if half and brightness[:half].mean() < brightness[height - half :].mean():
        order = order[cells[::-1].ravel()]
    return order


def plot_layout(permutation: np.ndarray, order: np.ndarray, height: int, width: int):
    """The recovered grid, each cell coloured by the true position of the pixel it holds.

    Left: hue from the true column (red) and row (green); a perfect recovery is a
    smooth gradient, possibly flipped or turned. Right: how many of each cell's
    true 4-neighbours landed next to it again.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from acmlkit.plotting import new_figure

    n_pixels = _check_grid(height, width)
    share = neighbour_share(permutation, order, height, width)
    held = np.asarray(permutation)[np.asarray(order)]  # cell -> original pixel
    rows, cols = np.divmod(held, width)
    colours = np.stack(
        [cols / max(width - 1, 1), rows / max(height - 1, 1), np.full(n_pixels, 0.5)], axis=-1
    ).reshape(height, width, 3)
    cell_of = np.argsort(held)
    a, b = grid_edges(height, width)
    ra, ca = np.divmod(cell_of[a], width)
    rb, cb = np.divmod(cell_of[b], width)
    kept = np.abs(ra - rb) + np.abs(ca - cb) == 1
    degree = np.bincount(np.r_[a, b], minlength=n_pixels)
    found = np.bincount(np.r_[a, b], weights=np.r_[kept, kept], minlength=n_pixels)
    fraction = np.zeros(n_pixels)
    fraction[cell_of] = found / degree  # shown at the recovered cell
    fig, (left, right) = new_figure(8.0, 3.6, ncols=2)
    left.imshow(colours, interpolation="nearest")
    left.set_title("recovered layout, coloured by true position")
    image = right.imshow(fraction.reshape(height, width), vmin=0, vmax=1, cmap="viridis",
                         interpolation="nearest")
    right.set_title(f"true neighbours kept ({100 * share:.1f} % of pairs)")
    fig.colorbar(image, ax=right, shrink=0.8, label="share of its neighbours")
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
