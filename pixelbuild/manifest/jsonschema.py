"""The JSON schema of pixels.yaml, generated from the pydantic models (for editors)."""

from __future__ import annotations

import json

from pixelbuild.manifest.schema import Manifest

SCHEMA_ID = "https://pixelbuild.dev/schemas/pixels.schema.json"


def schema() -> dict[str, object]:
    body = Manifest.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "pixelbuild manifest (pixels.yaml)",
        **body,
    }


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"
