"""Pictures of model traces against references: an alignment PNG and an HTML report (matplotlib and the
standard library only; no training or evaluation framework)."""
