"""A small seeded k-means for ConCluGen's online clustering (paper eq. 9, REFERENCE 1.5).

``euclidean``: Lloyd's algorithm, the reading of eq. 9's ``Σ |R - C|``; ``cosine``: the
official code's ``fast_pytorch_kmeans.KMeans(mode='cosine')`` — assignment by the largest
cosine similarity, centroid = the plain mean of its rows. Both start from k rows drawn with
replacement (the library's ``init='random'``) from a seeded generator and stop after
``iters`` iterations or when no centroid moves more than ``tol``; a cluster that loses all
its rows keeps its previous centroid.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

Metric = Literal["euclidean", "cosine"]


def assign(x: torch.Tensor, centroids: torch.Tensor, metric: Metric) -> torch.Tensor:
    """The index of each row's centroid: nearest (euclidean) or most cosine-similar. int64 ``[N]``."""
    if metric == "cosine":
        return (F.normalize(x, dim=1) @ F.normalize(centroids, dim=1).T).argmax(dim=1)
    return torch.cdist(x, centroids).argmin(dim=1)


def kmeans(x: torch.Tensor, k: int, metric: Metric, iters: int, generator: torch.Generator,
           tol: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster ``x`` ``[N, D]`` into ``k`` groups: ``(centroids [k, D], assignment [N])``."""
    x = x.detach()
    start = torch.randint(0, x.shape[0], (k,), generator=generator, device=generator.device).to(x.device)
    centroids = x[start].clone()
    labels = assign(x, centroids, metric)
    for _ in range(iters):
        one_hot = F.one_hot(labels, k).to(x.dtype)
        counts = one_hot.sum(dim=0)
        sums = one_hot.T @ x
        updated = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centroids)
        shift = (updated - centroids).norm(dim=1).max()
        centroids = updated
        labels = assign(x, centroids, metric)
        if shift <= tol:
            break
    return centroids, labels
