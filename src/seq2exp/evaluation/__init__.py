"""The evaluation stage: tables and metrics, discovery and CRISPRi scores, mask tracks, figures,
the authors' weights."""
