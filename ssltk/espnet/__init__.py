"""ESPnet integration: ssltk upstreams as an ESPnet frontend (``frontend: ssltk``).

* :mod:`ssltk.espnet.frontend`: `SSLTKFrontend`, ESPnet's ``AbsFrontend`` over
  ``ssltk.hub.load(...)`` + `ssltk.featurizer.Featurizer`.
* :mod:`ssltk.espnet.run`: runs an ESPnet entry point with ``ssltk`` registered in
  the tasks' frontend choices (``python -m ssltk.espnet.run espnet2.bin.asr_train ...``
  or ``ssltk-espnet-python -m espnet2.bin.asr_train ...``, e.g. as asr.sh's ``--python``).

Both need ESPnet: ``pip install 'ssltk[espnet]'`` (``make -C tools`` installs it).
"""

ESPNET_MISSING = (
    "ssltk.espnet needs ESPnet: install the pinned extra with pip install 'ssltk[espnet]' "
    "(make -C tools installs it into tools/venv)"
)
