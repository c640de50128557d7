"""Framework-free evaluation: trace metrics of a model output (against a reference or without one), the LLM
judge, and ``moss score`` over a file of rollouts. The lmms-eval tasks and the viz pictures read these."""
