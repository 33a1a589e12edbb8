"""Seq2Exp: learning to discover regulatory elements for gene expression prediction."""

__version__ = "0.1.0"
