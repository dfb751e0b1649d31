"""The pipeline's jobs: poll, match, plan, send, the one cycle, the worker and its locks."""
