"""Downstream tasks on (frozen or fine-tuned) upstreams, SUPERB style.

Each task is a `ssltk.tasks.base.DownstreamTask` in its own module, registered by name
in `ssltk.tasks.registry`:

* ``cls``: utterance classification (categories, speaker ID, intents), `ssltk.tasks.classification`;
* ``asr`` / ``cs``: CTC recognition of characters, BPE pieces, words or phones, and
  code-switching ASR with a bilingual token list, `ssltk.tasks.asr`.

`ssltk.tasks.experiment` trains a task into an experiment directory, decodes data
with it and scores the result (``python -m ssltk.bin.train`` / ``infer`` / ``score``);
example configurations are in ``ssltk/tasks/conf/``.
"""

from pathlib import Path

CONF_DIR = Path(__file__).with_name("conf")
