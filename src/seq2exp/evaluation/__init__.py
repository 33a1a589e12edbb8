"""The evaluation stage: metrics, discovery and CRISPRi scores, mask tracks, figures, and the rules' work (stage)."""
