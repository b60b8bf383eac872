"""Numerical parity of ssltk's encoder with Hugging Face and torchaudio (random weights).

Each HF model is saved with ``save_pretrained`` and loaded with ``ssltk.hub.load(dir)``.
ssltk runs a padded batch; the peers run each utterance alone (HF's own batched output
depends on padding for group-norm extractors). Every hidden state must agree within 1e-4.
"""

from __future__ import annotations

import pytest
import torch
from test_upstream_common import (
    BASE_LENGTHS,
    STABLE,
    TINY_LENGTHS,
    hf_hidden_states,
    make_hf_model,
    max_diff_on_valid,
    padded_batch,
)

import ssltk.hub as hub

pytest.importorskip("transformers")
TOL = 1e-4

CASES = {
    # name: (model_type, tiny, HF overrides)
    "wav2vec2_group_tiny": ("wav2vec2", True, {}),
    "wav2vec2_stable_tiny": ("wav2vec2", True, dict(STABLE, conv_bias=True)),
    "hubert_group_tiny": ("hubert", True, {}),
    "hubert_stable_tiny": ("hubert", True, dict(STABLE, conv_bias=True)),
    "wavlm_group_tiny": ("wavlm", True, {}),
    "wavlm_stable_tiny": ("wavlm", True, dict(STABLE)),
    "wav2vec2_base": ("wav2vec2", False, {}),
    "hubert_base": ("hubert", False, {}),
    "wavlm_base": ("wavlm", False, {}),
}


def _ssltk_vs_hf(model, tmp_path, lengths):
    model.save_pretrained(tmp_path / "hf")
    ours = hub.load(tmp_path / "hf")
    wavs, lens, utts = padded_batch(lengths)
    with torch.no_grad():
        hidden_states, out_lens = ours(wavs, lens)
    assert len(hidden_states) == model.config.num_hidden_layers + 1
    return ours, hidden_states, out_lens, utts


@pytest.mark.parametrize("case", list(CASES))
def test_every_hidden_state_matches_hf_run_alone(case, tmp_path):
    model_type, tiny, overrides = CASES[case]
    model = make_hf_model(model_type, tiny=tiny, noise=0.05 if tiny else 0.01, **overrides)
    lengths = TINY_LENGTHS if tiny else BASE_LENGTHS
    if case == "wavlm_base":  # > 80 frames: reach the log-spaced relative-position buckets
        lengths = [2 * n for n in lengths]
    ours, hidden_states, out_lens, utts = _ssltk_vs_hf(model, tmp_path, lengths)
    references = [hf_hidden_states(model, u) for u in utts]
    diff = max_diff_on_valid(hidden_states, out_lens, references)
    print(f"{case}: max abs diff vs HF = {diff:.2e}")
    assert diff < TOL


@pytest.mark.parametrize(
    "case",
    ["wav2vec2_group_tiny", "wav2vec2_stable_tiny", "hubert_group_tiny", "wavlm_group_tiny", "wavlm_stable_tiny", "hubert_base"],
)
def test_layer_outputs_match_torchaudio(case, tmp_path):
    """torchaudio's ``extract_features`` returns each transformer layer's output (no
    final LayerNorm); its ``forward`` returns the encoder output. So ssltk's entries
    1..N-1 match ``extract_features[:-1]`` and the last entry matches ``forward``."""
    from torchaudio.models.wav2vec2.utils import import_huggingface_model

    model_type, tiny, overrides = CASES[case]
    model = make_hf_model(model_type, tiny=tiny, noise=0.05 if tiny else 0.01, **overrides)
    lengths = TINY_LENGTHS if tiny else BASE_LENGTHS
    _, hidden_states, out_lens, utts = _ssltk_vs_hf(model, tmp_path, lengths)
    peer = import_huggingface_model(model).eval()
    references = []
    with torch.no_grad():
        for utt in utts:
            layer_outputs, _ = peer.extract_features(utt[None])
            encoder_output, _ = peer(utt[None])
            references.append(layer_outputs[:-1] + [encoder_output])
    diff = max_diff_on_valid(hidden_states[1:], out_lens, references)
    print(f"{case}: max abs diff vs torchaudio = {diff:.2e}")
    assert diff < TOL


def test_hf_prefixed_keys_and_heads_are_handled(tmp_path):
    """A ``Wav2Vec2ForCTC`` save (``wav2vec2.`` prefix, ``lm_head``) loads as its encoder."""
    from transformers import Wav2Vec2ForCTC

    base = make_hf_model("wav2vec2")
    ctc = Wav2Vec2ForCTC(base.config).eval()
    ctc.wav2vec2.load_state_dict(base.state_dict())
    ctc.save_pretrained(tmp_path / "ctc")
    assert any(k.startswith("wav2vec2.") for k in ctc.state_dict())
    ours = hub.load(tmp_path / "ctc")
    wavs, lens, utts = padded_batch(TINY_LENGTHS)
    with torch.no_grad():
        hidden_states, out_lens = ours(wavs, lens)
    assert max_diff_on_valid(hidden_states, out_lens, [hf_hidden_states(base, u) for u in utts]) < TOL
    assert "mask_emb" in ours.pretraining_heads  # HF's masked_spec_embed, kept for pre-training


def test_hf_weight_g_v_names_in_pytorch_model_bin(tmp_path):
    """Older HF saves spell the weight norm ``weight_g``/``weight_v`` (and use .bin)."""
    from safetensors.torch import load_file

    model = make_hf_model("hubert")
    model.save_pretrained(tmp_path / "hf")
    state = load_file(str(tmp_path / "hf" / "model.safetensors"))
    old_names = {"parametrizations.weight.original0": "weight_g", "parametrizations.weight.original1": "weight_v"}
    renamed = {}
    for key, value in state.items():
        for new, old in old_names.items():
            key = key.replace(new, old)
        renamed[key] = value
    assert "encoder.pos_conv_embed.conv.weight_g" in renamed
    (tmp_path / "hf" / "model.safetensors").unlink()
    torch.save(renamed, tmp_path / "hf" / "pytorch_model.bin")
    ours = hub.load(tmp_path / "hf")
    wavs, lens, utts = padded_batch(TINY_LENGTHS)
    with torch.no_grad():
        hidden_states, out_lens = ours(wavs, lens)
    assert max_diff_on_valid(hidden_states, out_lens, [hf_hidden_states(model, u) for u in utts]) < TOL


def test_hf_preprocessor_do_normalize_is_applied(tmp_path):
    model = make_hf_model("wav2vec2", **STABLE)
    model.save_pretrained(tmp_path / "hf")
    (tmp_path / "hf" / "preprocessor_config.json").write_text('{"do_normalize": true}')
    ours = hub.load(tmp_path / "hf")
    assert ours.config.normalize_waveform
    utt = torch.randn(3000) * 2 + 0.5
    normalized = (utt - utt.mean()) / torch.sqrt(utt.var(unbiased=False) + 1e-5)
    with torch.no_grad():
        hidden_states, lens = ours(utt[None], torch.tensor([3000]))
    assert max_diff_on_valid(hidden_states, lens, [hf_hidden_states(model, normalized)]) < TOL
