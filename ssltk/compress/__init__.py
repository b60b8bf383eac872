"""Making upstreams smaller and faster (seed 001, "Model Compression & Sequence
Compression"): sequence compression modules for the encoder's ``between_layers`` slots
(`ssltk.compress.subsample`)."""
