"""Data preparation for corpora: their own layouts -> Kaldi data dirs.

- `ssltk.corpora.fsdd`: the Free Spoken Digit Dataset (real recordings).
- `ssltk.corpora.slurp`: SLURP's JSONL + audio layout (the real corpus and
  ssltk's synthetic intent corpus).

Synthetic corpora in real corpora's layouts come from `ssltk.corpora.synth`.
"""
