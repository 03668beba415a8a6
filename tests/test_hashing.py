"""Step keys are digests of canonical JSON: the reused C encoder must write exactly the text
json.dumps writes with the same options, for every kind of value a key holds."""

from __future__ import annotations

import json
import random

import pytest

from pixelbuild.cache.hashing import canonical_json, digest_json


def reference(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


VALUES = [
    {"kind": "generate", "params": {"seed": 3, "canvas": [64, 64], "guidance": 7.0}},
    {"b": 1, "a": {"z": None, "y": True, "x": False}},
    {"prompt": "ein Ritter, 騎士, \u00e9p\u00e9e \u2014 \"quoted\" \\ back\nline\ttab \u0007"},
    [0.1, 1e-7, 1e16, 123456789012345678901234567890, -0.0, 2.5e-308, 1 / 3],
    {"nested": [[[]], {}, [{"k": [1, {"j": "v"}]}]]},
    "a bare string",
    42,
    None,
    {"inf": float("inf"), "nan": float("nan")},
    {"1": "string keys", "10": "sorted as text", "2": "x"},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_canonical_json_is_json_dumps_with_sorted_keys(value):
    assert canonical_json(value) == reference(value)


def test_random_trees_encode_as_json_dumps_does():
    rng = random.Random(7)
    leaves = [0, -1, 2**70, 0.5, 1e300, "", "ß", "\U0001f600", True, None]

    def tree(depth: int) -> object:
        if depth == 0 or rng.random() < 0.3:
            return rng.choice(leaves)
        if rng.random() < 0.5:
            return [tree(depth - 1) for _ in range(rng.randrange(4))]
        return {f"k{rng.randrange(50)}": tree(depth - 1) for _ in range(rng.randrange(4))}

    for _ in range(2000):
        value = tree(5)
        assert canonical_json(value) == reference(value)


def test_a_digest_is_of_the_canonical_text():
    assert digest_json({"b": 1, "a": 2}) == digest_json({"a": 2, "b": 1})
    assert digest_json({"a": 1}) != digest_json({"a": 1.0})
