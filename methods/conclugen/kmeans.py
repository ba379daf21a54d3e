"""A small seeded k-means for ConCluGen's online clustering (paper Sec. 3.3, eq. 9).

Two readings, chosen by the config (``kmeans_metric``, ``kmeans_loop``, ``kmeans_empty_cluster``):

* the paper's eq. 9 (``Σ |R - C|``): Lloyd's algorithm with euclidean assignment, the labels
  those of the final centroids, stopping when no centroid moves more than ``tol``, a cluster
  that loses all its rows keeping its previous centroid;
* the official code's ``fast_pytorch_kmeans.KMeans(n_clusters, mode='cosine')``
  (``contrastive_clustering_model.py`` L168-169; the bundled wheel's ``kmeans.py``
  ``fit_predict``): assignment by the largest cosine similarity, centroid = the plain mean of its
  rows, stop when the summed squared centroid shift is at most ``tol``, the returned labels those
  of the last assignment step (made before that step's update), and an empty cluster's centroid
  0/0 = NaN turned into the zero vector (``torch.nan_to_num_``).

Both start from k rows drawn with replacement (the library's ``init='random'``,
``torch.randint(0, N, [k])``) from the given generator.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

Metric = Literal["euclidean", "cosine"]
Loop = Literal["lloyd", "fast_pytorch_kmeans"]
Empty = Literal["keep", "zero"]


def assign(x: torch.Tensor, centroids: torch.Tensor, metric: Metric) -> torch.Tensor:
    """The index of each row's centroid: nearest (euclidean) or most cosine-similar. int64 ``[N]``."""
    if metric == "cosine":
        return (F.normalize(x, dim=1) @ F.normalize(centroids, dim=1).T).max(dim=1)[1]
    return torch.cdist(x, centroids).argmin(dim=1)


def _means(x: torch.Tensor, labels: torch.Tensor, centroids: torch.Tensor, empty: Empty) -> torch.Tensor:
    """The mean of each cluster's rows; an empty cluster keeps its centroid or becomes zero."""
    one_hot = F.one_hot(labels, centroids.shape[0]).to(x.dtype)
    counts = one_hot.sum(dim=0)
    means = (one_hot.T @ x) / counts.clamp(min=1)[:, None]
    return torch.where(counts[:, None] > 0, means, centroids if empty == "keep" else torch.zeros_like(centroids))


def kmeans(x: torch.Tensor, k: int, metric: Metric, iters: int, generator: torch.Generator,
           tol: float = 1e-4, loop: Loop = "lloyd", empty: Empty = "keep") -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster ``x`` ``[N, D]`` into ``k`` groups: ``(centroids [k, D], assignment [N])``."""
    x = x.detach()
    start = torch.randint(0, x.shape[0], (k,), generator=generator, device=generator.device).to(x.device)
    centroids = x[start].clone()
    if loop == "fast_pytorch_kmeans":
        labels = assign(x, centroids, metric)
        for _ in range(iters):
            labels = assign(x, centroids, metric)
            updated = _means(x, labels, centroids, empty)
            error = (updated - centroids).pow(2).sum()
            centroids = updated
            if error <= tol:
                break
        return centroids, labels
    labels = assign(x, centroids, metric)
    for _ in range(iters):
        updated = _means(x, labels, centroids, empty)
        shift = (updated - centroids).norm(dim=1).max()
        centroids = updated
        labels = assign(x, centroids, metric)
        if shift <= tol:
            break
    return centroids, labels
