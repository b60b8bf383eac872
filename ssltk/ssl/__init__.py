"""Self-supervised pre-training helpers: discrete targets for HuBERT / MelHuBERT.

``kmeans``: mini-batch k-means codebooks (fit, save/load, predict);
``features``: frames from a feature dump or a hub upstream's layer;
``labels``: ``text.km`` + ``km_info.yaml`` per data dir, label/frame-rate checks.
CLI: ``python -m ssltk.bin.kmeans {fit,label,score}``.
"""
