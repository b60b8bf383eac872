"""RESULTS.md builders of the recipes.

``table``: the shared pieces (number formatting, mean ± std, ``<name>_s<seed>`` runs);
``downstream``: scored downstream experiments (``ssltk.bin.results_table``);
``ssl_pretraining``: k-means, pre-training and distillation steps (``ssltk.bin.ssl_results``);
``uasr``: unsupervised ASR runs (``ssltk.bin.uasr_results``).
"""
