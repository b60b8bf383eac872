"""Extension points of the shared encoder and its behaviour in training mode."""

from __future__ import annotations

import pytest
import torch
from test_upstream_common import batched_vs_single, max_diff_on_valid, padded_batch
from torch import nn

import ssltk.hub as hub
from ssltk.upstream.transformer import KeepSequence

TOL = 1e-4


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _run(upstream, lengths=(4000, 2500), **options):
    wavs, lens, _ = padded_batch(list(lengths))
    with torch.no_grad():
        return upstream(wavs, lens, **options)


def test_projections_are_plain_linear_for_lora():
    layer = hub.load("wavlm_debug").encoder.layers[0]
    for module in (layer.attention.q_proj, layer.attention.k_proj, layer.attention.v_proj, layer.attention.out_proj):
        assert type(module) is nn.Linear
    assert type(layer.ffn.fc1) is nn.Linear and type(layer.ffn.fc2) is nn.Linear


def test_adapter_slots_are_swappable_identities():
    upstream = hub.load("hubert_debug")
    before, _ = _run(upstream)
    layer = upstream.encoder.layers[1]
    assert isinstance(layer.attn_adapter, nn.Identity) and isinstance(layer.ffn_adapter, nn.Identity)

    class Double(nn.Module):  # (a constant shift would vanish in the post-LN LayerNorm)
        def forward(self, x):
            return 2.0 * x

    layer.ffn_adapter = Double()
    after, _ = _run(upstream)
    assert torch.equal(before[1], after[1])  # layer 0 untouched
    assert not torch.allclose(before[2], after[2])


def test_skip_layers_passes_the_state_through_and_keeps_the_count():
    upstream = hub.load("hubert_debug")
    hidden_states, _ = _run(upstream, skip_layers={1})
    assert len(hidden_states) == 3
    assert torch.equal(hidden_states[1], hidden_states[2])


def test_layerdrop_never_changes_the_number_of_layers():
    upstream = hub.load("wav2vec2_stable_debug", layerdrop=1.0).train()
    wavs, lens, _ = padded_batch([4000, 2500])
    hidden_states, _ = upstream(wavs, lens)
    assert len(hidden_states) == upstream.num_layers + 1
    upstream.eval()  # no layerdrop in eval: the layers change the state again
    hidden_states, _ = _run(upstream)
    assert not torch.allclose(hidden_states[0], hidden_states[1])


def test_head_mask_of_ones_changes_nothing_and_zeros_do():
    upstream = hub.load("wavlm_debug")
    plain, _ = _run(upstream)
    ones, _ = _run(upstream, head_masks=[torch.ones(2), torch.ones(2)])
    zeros, _ = _run(upstream, head_masks=[None, torch.tensor([1.0, 0.0])])
    assert all(torch.allclose(a, b) for a, b in zip(plain, ones))
    assert torch.equal(plain[1], zeros[1]) and not torch.allclose(plain[2], zeros[2])


def test_prefix_key_values_are_attended_and_padding_invariant():
    upstream = hub.load("wavlm_debug")
    prefix = (torch.randn(1, 2, 3, 16), torch.randn(1, 2, 3, 16))
    plain, _ = _run(upstream)
    wavs, lens, utts = padded_batch([4000, 2500])
    batch_prefix = [tuple(t.expand(2, -1, -1, -1) for t in prefix)] * 2
    with torch.no_grad():
        prefixed, out_lens = upstream(wavs, lens, prefix_kv=batch_prefix)
        singles = [upstream(u[None], torch.tensor([len(u)]), prefix_kv=[prefix, prefix])[0] for u in utts]
    assert not torch.allclose(plain[1], prefixed[1])
    assert max_diff_on_valid(prefixed, out_lens, singles) < TOL


class HalveTime(nn.Module):
    """Keep every other frame (a stand-in for sequence compression)."""

    def forward(self, x, lens):
        return x[:, ::2], torch.div(lens + 1, 2, rounding_mode="floor")


def test_between_layers_slot_may_shorten_time():
    for name in ["hubert_debug", "wavlm_debug"]:
        upstream = hub.load(name)
        assert all(isinstance(m, KeepSequence) for m in upstream.encoder.between_layers)
        upstream.encoder.between_layers[0] = HalveTime()
        hidden_states, lens = _run(upstream, lengths=(16000, 9000))
        assert hidden_states[0].shape[1] == 49 and hidden_states[1].shape[1] == 25
        assert lens.tolist() == [25, 14]  # frames before: 49 and 27
        # The rebuilt padding mask keeps batched == one-by-one after subsampling.
        assert batched_vs_single(upstream, [4000, 2500, 3300]) < TOL


def test_training_mode_backward_with_padding():
    upstream = hub.load("hubert_debug").train()
    wavs, lens, _ = padded_batch([4000, 2500])
    hidden_states, out_lens = upstream(wavs, lens)
    mask = (torch.arange(hidden_states[-1].shape[1])[None] < out_lens[:, None]).float()
    loss = (hidden_states[-1].square().mean(-1) * mask).sum()
    loss.backward()
    grads = [p.grad for p in upstream.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert upstream.feature_extractor.conv_layers[0].norm.weight.grad.abs().sum() > 0


def test_gradients_flow_to_the_input_when_frozen():
    """A frozen upstream under autograd (e.g. input-gradient analyses) stays correct."""
    upstream = hub.load("wav2vec2_debug")
    for p in upstream.parameters():
        p.requires_grad_(False)
    wavs, lens, _ = padded_batch([4000, 2500])
    wavs.requires_grad_(True)
    hidden_states, _ = upstream(wavs, lens)
    hidden_states[-1].sum().backward()
    assert wavs.grad is not None and torch.isfinite(wavs.grad).all()
    with torch.no_grad():
        reference, _ = upstream(wavs.detach(), lens)
    assert torch.allclose(reference[-1], hidden_states[-1].detach(), atol=1e-5)
