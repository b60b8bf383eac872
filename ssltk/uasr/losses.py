"""wav2vec-U 2.0 losses, each a batch mean (one utterance weighs the same whatever the
batch size; fairseq sums over the batch and divides the gradient by the batch size,
which is the same thing).

Generator step: ``gan_loss(D(fake), real=True)`` + ``code_penalty *
diversity_penalty`` + ``smoothness_weight * smoothness_loss`` + ``mmi_weight *
aux_kmeans_loss`` (+ the optional CLIP loss, `ssltk.uasr.clip`).
Discriminator step: ``gan_loss(D(fake), False) + gan_loss(D(real), True) +
gradient_penalty_weight * gradient_penalty`` -- the penalty enters once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssltk.upstream.base import valid_mask


def gan_loss(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross-entropy of discriminator logits against "real" (1) or "generated" (0)."""
    target = torch.full_like(scores, 1.0 if real else 0.0)
    return F.binary_cross_entropy_with_logits(scores, target)


def gradient_penalty(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     alpha: torch.Tensor | None = None) -> torch.Tensor:
    """fairseq's wav2vec-U penalty on points between real and generated sequences.

    Both are cut to the shorter batch and time length; ``x = alpha * real + (1 - alpha)
    * fake`` with one ``alpha ~ U(0, 1)`` per sequence; ``g = dD(x)/dx`` of shape
    ``[B, T, V]``; the penalty of a sequence is ``sum_v (||g[:, v]||_2 - 1)^2``, the norm
    taken over time as in fairseq; returned: the mean over sequences.  The graph is kept
    (``create_graph``) so that the penalty trains the discriminator.
    """
    b = min(real.size(0), fake.size(0))
    t = min(real.size(1), fake.size(1))
    real, fake = real[:b, :t], fake[:b, :t]
    if alpha is None:
        alpha = torch.rand(b, 1, 1, device=real.device, dtype=real.dtype)
    x = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    scores = discriminator(x, None)
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).sum(dim=1).mean()


def smoothness_loss(logits: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of consecutive logits, over valid neighbour pairs and classes."""
    if logits.size(1) < 2:
        return logits.sum() * 0
    diff = (logits[:, 1:] - logits[:, :-1]).pow(2).mean(dim=-1)  # [B, T-1]
    valid = valid_mask((lens - 1).clamp(min=0), diff.size(1))
    count = valid.sum()
    return (diff * valid).sum() / count.clamp(min=1)


def diversity_penalty(logits: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
    """``(V - perplexity) / V`` of the batch's mean phone distribution (valid frames):
    0 when every phone is used equally, near 1 when one phone takes everything."""
    valid = valid_mask(lens, logits.size(1))
    probs = logits.float().softmax(dim=-1)[valid]
    mean = probs.mean(dim=0)
    perplexity = torch.exp(-(mean * torch.log(mean + 1e-7)).sum())
    num = logits.size(-1)
    return (num - perplexity) / num


def aux_kmeans_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the residual branch's k-means predictions ``[B, T, K]`` against
    frame labels ``[B, T']`` (-1: no label); frames beyond the shorter length are ignored."""
    t = min(logits.size(1), targets.size(1))
    targets = targets[:, :t]
    if not (targets >= 0).any():
        return logits.sum() * 0
    return F.cross_entropy(logits[:, :t].transpose(1, 2).float(), targets, ignore_index=-1)
