"""Cluster quality of frame-level discrete units against frame-level phone labels.

Defined as in HuBERT (Hsu et al., "HuBERT: Self-Supervised Speech Representation
Learning by Masked Prediction of Hidden Units", IEEE/ACM TASLP 2021, the analysis of
cluster quality against forced-aligned phones),
with ``p(y, z)`` the joint distribution of phone ``y`` and cluster ``z`` over frames:

- phone purity ``E_z[max_y p(y|z)]``: how pure a cluster is, on average;
- cluster purity ``E_y[max_z p(z|y)]``: how concentrated a phone is in one cluster;
- PNMI ``I(y; z) / H(y)``: the fraction of phone uncertainty a cluster removes
  (1: the clusters determine the phone; 0: independent).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ClusterScores:
    phone_purity: float
    cluster_purity: float
    pnmi: float  # NaN when H(y) = 0 (a single phone)
    phone_entropy: float  # H(y), nats
    mutual_info: float  # I(y; z), nats
    num_frames: int
    num_phones: int
    num_clusters: int  # clusters that occur

    def as_dict(self) -> dict:
        return asdict(self)


def contingency(phones: Sequence[Hashable], clusters: Sequence[Hashable]) -> np.ndarray:
    """Counts ``n[y, z]`` of frames with phone ``y`` and cluster ``z`` (rows/columns in
    sorted label order; only labels that occur)."""
    if len(phones) != len(clusters):
        raise ValueError(f"{len(phones)} phone labels but {len(clusters)} cluster labels")
    _, y = np.unique(np.asarray(phones), return_inverse=True)
    _, z = np.unique(np.asarray(clusters), return_inverse=True)
    ny, nz = (int(y.max()) + 1, int(z.max()) + 1) if len(y) else (0, 0)
    counts = np.bincount(y.ravel() * nz + z.ravel(), minlength=ny * nz)
    return counts.reshape(ny, nz)


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def scores_from_counts(counts: np.ndarray) -> ClusterScores:
    """`ClusterScores` of a ``[phones, clusters]`` count matrix."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("no frames to score")
    p = counts / total
    py, pz = p.sum(1), p.sum(0)
    h_y = _entropy(py)
    mi = max(0.0, h_y + _entropy(pz) - _entropy(p.ravel()))  # I = H(y) + H(z) - H(y, z)
    return ClusterScores(
        phone_purity=float(p.max(0).sum()), cluster_purity=float(p.max(1).sum()),
        pnmi=mi / h_y if h_y > 0 else float("nan"), phone_entropy=h_y, mutual_info=mi,
        num_frames=int(total), num_phones=int((py > 0).sum()), num_clusters=int((pz > 0).sum()))


def cluster_scores(phones: Sequence[Hashable], clusters: Sequence[Hashable]) -> ClusterScores:
    """Purities and PNMI of aligned frame labels (equal-length sequences)."""
    return scores_from_counts(contingency(phones, clusters))
