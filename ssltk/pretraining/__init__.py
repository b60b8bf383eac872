"""Building upstreams: SSL pre-training and distillation.

``kmeans``: mini-batch k-means codebooks (`fit_codebook` on a feature source, save/load, predict);
``features``: frames from a feature dump or a hub upstream's layer;
``labels``: ``text.km`` + ``km_info.yaml`` per data dir (`label_dir`), their scores against
a phone alignment (`score_labels`), label/frame-rate checks;
``masked_prediction``: HuBERT / MelHuBERT masked prediction on those labels;
``distill``: DistilHuBERT (any hub upstream as the teacher).
CLIs: ``python -m ssltk.bin.{kmeans,pretrain,distill}``; configs in ``ssltk/pretraining/conf/``.
"""
