"""Code versions that are part of every step key; bump one when its step's output would change."""

STEP_VERSIONS = {"source": "1", "generate": "1", "palette": "1", "pixelize": "1", "assemble": "1"}
