"""Unsupervised ASR (wav2vec-U 2.0 style): text side, phone LM, GAN, selection."""
