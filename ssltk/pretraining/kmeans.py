"""Mini-batch k-means in torch (CPU or CUDA, float32) and its saved codebook.

Algorithm (Sculley, "Web-scale k-means clustering", WWW 2010): k-means++ seeding
(Arthur & Vassilvitskii 2007) on a random subset, then mini-batch steps where each
centre moves to the running mean of every point ever assigned to it (per-centre
learning rate ``1 / count``).  Centres that starve (count far below the largest)
are moved onto batch points drawn in proportion to their squared distance.  A few
full Lloyd steps on the data then polish the result (mini-batch alone ends a few
per cent above Lloyd's inertia).
Several initialisations run; the one with the lowest inertia (sum of squared
distances to the nearest centre) on all the data given wins.  Every random draw
comes from a CPU generator seeded by ``seed`` and the init's index, so a seed
gives the same codebook on every CPU run (on CUDA, float atomics in ``index_add_``
may change the last bits).  Distances are
computed in row chunks so that memory stays at about ``chunk_elems`` floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ssltk.data.ctm import WINDOW_CENTRE
from ssltk.errors import UserError
from ssltk.pretraining.features import FeatureSource, sample_frames

FORMAT = "ssltk-kmeans"
VERSION = 1
CHUNK_ELEMS = 1 << 24  # distance-matrix entries per chunk (64 MiB of float32)


class KMeansError(UserError):
    """Bad k-means input or codebook; the message names the file."""


@dataclass
class KMeansConfig:
    """``batch_size`` points per step, at most ``max_steps`` steps, stopping early after
    ``patience`` steps without a better smoothed batch inertia; ``init_size`` points
    (default ``max(3 k, min(n, 3 batch_size))``) seed k-means++; ``n_init`` runs;
    ``refine_steps`` full-data Lloyd steps polish each run (0: pure mini-batch)."""

    k: int
    batch_size: int = 10000
    max_steps: int = 300
    patience: int = 20
    n_init: int = 3
    init_size: int | None = None
    reassign_ratio: float = 0.01
    refine_steps: int = 10
    seed: int = 0


def assign(x: torch.Tensor, centers: torch.Tensor, chunk_elems: int = CHUNK_ELEMS
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centre of each row: ``(labels[N] long, squared distances[N])``."""
    c_sq = centers.square().sum(1)
    rows = max(1, chunk_elems // max(1, len(centers)))
    labels, dists = [], []
    for start in range(0, len(x), rows):
        xb = x[start:start + rows]
        d = torch.addmm(c_sq[None, :], xb, centers.T, alpha=-2.0)  # |c|^2 - 2 x.c
        best, idx = d.min(1)
        labels.append(idx)
        dists.append((best + xb.square().sum(1)).clamp_(min=0.0))
    if not labels:
        return x.new_zeros(0, dtype=torch.long), x.new_zeros(0)
    return torch.cat(labels), torch.cat(dists)


def kmeans_pp(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: the first centre uniform, each next one drawn with probability
    proportional to the squared distance to the nearest centre chosen so far."""
    first = int(torch.randint(len(x), (1,), generator=gen))
    centers = [x[first]]
    nearest = (x - x[first]).square().sum(1)
    for _ in range(1, k):
        weights = nearest.double().cpu()
        if float(weights.sum()) <= 0:  # fewer distinct points than k: any point will do
            weights = torch.ones_like(weights)
        idx = int(torch.multinomial(weights, 1, generator=gen))
        centers.append(x[idx])
        nearest = torch.minimum(nearest, (x - x[idx]).square().sum(1))
    return torch.stack(centers)


def _minibatch_run(x: torch.Tensor, cfg: KMeansConfig, gen: torch.Generator) -> torch.Tensor:
    n = len(x)
    init_size = cfg.init_size or max(3 * cfg.k, min(n, 3 * cfg.batch_size))
    init_idx = torch.randperm(n, generator=gen)[:min(n, init_size)].to(x.device)
    centers = kmeans_pp(x[init_idx], cfg.k, gen)
    counts = torch.zeros(cfg.k, device=x.device)
    batch = min(cfg.batch_size, n)
    best_ewa, ewa, stale = float("inf"), None, 0
    alpha = min(1.0, 2.0 * batch / (n + 1))  # smoothing over about half an epoch
    for step in range(cfg.max_steps):
        idx = torch.randint(n, (batch,), generator=gen).to(x.device)
        xb = x[idx]
        labels, dists = assign(xb, centers)
        sums = torch.zeros_like(centers).index_add_(0, labels, xb)
        hits = torch.bincount(labels, minlength=cfg.k).to(counts.dtype)
        new_counts = counts + hits
        moved = hits > 0
        centers[moved] = (centers[moved] * counts[moved, None] + sums[moved]) / new_counts[moved, None]
        counts = new_counts
        if cfg.reassign_ratio > 0 and step % 10 == 9:
            _reassign(centers, counts, xb, dists, cfg.reassign_ratio, gen)
        inertia = float(dists.mean())
        ewa = inertia if ewa is None else (1 - alpha) * ewa + alpha * inertia
        if ewa < best_ewa * (1 - 1e-4):
            best_ewa, stale = ewa, 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    return centers


def _reassign(centers, counts, xb, dists, ratio, gen) -> None:
    """Move starving centres onto batch points drawn by squared distance."""
    starving = (counts < ratio * counts.max()).nonzero().flatten()
    if len(starving) == 0:
        return
    weights = dists.double().cpu()
    if float(weights.sum()) <= 0:
        return
    picks = torch.multinomial(weights, len(starving), replacement=False, generator=gen)
    centers[starving] = xb[picks.to(xb.device)]
    counts[starving] = counts[counts >= ratio * counts.max()].min()


def lloyd_refine(x: torch.Tensor, centers: torch.Tensor, steps: int) -> torch.Tensor:
    """Up to ``steps`` Lloyd iterations on all of ``x`` (empty clusters keep their
    centre); stops when no assignment changes."""
    previous = None
    for _ in range(steps):
        labels, _ = assign(x, centers)
        if previous is not None and torch.equal(labels, previous):
            break
        sums = torch.zeros_like(centers).index_add_(0, labels, x)
        hits = torch.bincount(labels, minlength=len(centers))
        used = hits > 0
        centers = centers.clone()
        centers[used] = sums[used] / hits[used, None].to(x.dtype)
        previous = labels
    return centers


def minibatch_kmeans(x: torch.Tensor, cfg: KMeansConfig) -> tuple[torch.Tensor, float]:
    """Fit ``cfg.k`` centres to the rows of ``x`` (float32, any device).

    Returns ``(centers[k, D], inertia)`` with the inertia summed over all rows.
    """
    if x.ndim != 2 or len(x) == 0:
        raise KMeansError(f"k-means needs a non-empty [N, D] matrix, got shape {tuple(x.shape)}")
    if cfg.k < 1:
        raise KMeansError(f"k must be >= 1, got {cfg.k}")
    if cfg.k > len(x):
        raise KMeansError(f"k = {cfg.k} is larger than the number of frames ({len(x)}); "
                          "use a smaller k or more data")
    if not bool(torch.isfinite(x).all()):
        raise KMeansError("the features hold NaN or Inf values")
    x = x.float()
    best, best_inertia = None, float("inf")
    for run in range(max(1, cfg.n_init)):
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + run)
        centers = lloyd_refine(x, _minibatch_run(x, cfg, gen), cfg.refine_steps)
        inertia = float(assign(x, centers)[1].double().sum())
        if inertia < best_inertia:
            best, best_inertia = centers, inertia
    return best, best_inertia


def fit_codebook(source: FeatureSource, cfg: KMeansConfig, max_frames: int,
                 normalize: str = "none", device: torch.device | str = "cpu",
                 where: str = "the source") -> tuple[Codebook, dict[str, Any]]:
    """Fit a codebook on at most ``max_frames`` random frames of ``source``.

    ``normalize="global"`` standardises the features with the sample's mean and std
    (kept in the codebook).  ``where`` names the data (errors, ``meta["trained_on"]``).
    Returns the codebook (``meta``: the source's description, the settings,
    ``sampled_frames``, ``total_frames``, ``inertia_per_frame``, ``frame_offset``) and
    ``{"num_utts", "inertia"}`` for the log.
    """
    if max_frames < 1:
        raise UserError(f"--max-frames must be >= 1, got {max_frames}")
    if normalize not in ("none", "global"):
        raise UserError(f"normalize must be none or global, got {normalize!r}")
    sample, total, num_utts = sample_frames(source.frames(), max_frames, cfg.seed)
    if cfg.k > len(sample):
        raise KMeansError(f"--k {cfg.k} is larger than the number of frames ({len(sample)}, "
                          f"from {num_utts} utterances of {where})")
    mean = std = None
    if normalize == "global":
        mean, std = sample.mean(0), sample.std(0).clamp(min=1e-5)
        sample = (sample - mean) / std
    centers, inertia = minibatch_kmeans(sample.to(device), cfg)
    info = {**source.describe(), "k": cfg.k, "dim": int(sample.shape[1]), "normalize": normalize,
            "seed": cfg.seed, "sampled_frames": len(sample), "total_frames": total,
            "inertia_per_frame": inertia / len(sample), "frame_offset": WINDOW_CENTRE,
            "trained_on": str(where)}
    return Codebook(centers.cpu(), mean, std, info), {"num_utts": num_utts, "inertia": inertia}


@dataclass
class Codebook:
    """Centres plus the feature normalisation applied before the distance
    (``(x - mean) / std`` when ``mean``/``std`` are set) and provenance ``meta``
    (upstream, layer, frame_rate, ...)."""

    centers: torch.Tensor
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return self.centers.shape[0]

    @property
    def dim(self) -> int:
        return self.centers.shape[1]

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if self.mean is not None:
            x = (x - self.mean.to(x.device)) / self.std.to(x.device)
        return x

    def predict(self, feats: torch.Tensor, where: str = "features") -> torch.Tensor:
        """Cluster ids ``[N]`` of the rows of ``feats[N, D]``; ``where`` names them in errors."""
        if feats.ndim != 2 or feats.shape[1] != self.dim:
            raise KMeansError(f"{where}: feature dimension {tuple(feats.shape)[1:]} does not match "
                              f"the codebook's {self.dim} ({self.meta.get('path', 'codebook')})")
        x = self.normalize(feats)
        return assign(x, self.centers.to(x.device))[0]

    def save(self, path: str | Path) -> None:
        """A small ``.pt`` of plain tensors and types (loadable with ``weights_only``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {k: v for k, v in self.meta.items() if k != "path"}
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save({"format": FORMAT, "version": VERSION, "centers": self.centers.float().cpu(),
                    "mean": None if self.mean is None else self.mean.float().cpu(),
                    "std": None if self.std is None else self.std.float().cpu(),
                    "meta": meta}, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> Codebook:
        path = Path(path)
        if not path.is_file():
            raise KMeansError(f"{path}: codebook not found")
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unreadable file is a user error here
            raise KMeansError(f"{path}: not a readable codebook ({err.__class__.__name__}: {err})") from None
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise KMeansError(f"{path}: not an ssltk k-means codebook")
        if blob.get("version", 0) > VERSION:
            raise KMeansError(f"{path}: codebook version {blob['version']} is newer than this ssltk")
        meta = dict(blob.get("meta") or {}, path=str(path))
        return cls(blob["centers"], blob.get("mean"), blob.get("std"), meta)
