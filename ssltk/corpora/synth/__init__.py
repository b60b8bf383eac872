"""Synthetic corpora in real corpora's layouts, spoken by espeak-ng.

    from ssltk.corpora.synth import generate
    generate("intent", "downloads/synth_intent", seed=0, num_utts=200)

Kinds (see each module): ``intent`` (SLURP-like, also in SLURP's layout),
``codeswitch`` (Setswana-English), ``unpaired`` (speech and text from disjoint
pools), ``captions`` (spoken scene captions), ``pretrain`` (unlabelled
multi-language speech for SSL pre-training).  Output: ``<out>/data/{train,
dev,test}`` Kaldi data dirs with 16 kHz 16-bit WAV files, phone sequences and
(with libespeak-ng) phone alignments, kind-specific files and a README.md.
"""

from ssltk.corpora.synth import captions, codeswitch, intent, pretrain, unpaired
from ssltk.corpora.synth.corpus import generate

KINDS = {"intent": intent, "codeswitch": codeswitch, "unpaired": unpaired, "captions": captions,
         "pretrain": pretrain}

__all__ = ["KINDS", "generate"]
