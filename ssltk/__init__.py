"""ssltk: a recipe-based toolkit for leveraging self-supervised speech models."""

__version__ = "0.1.0"
