"""A structure-aware manifest fuzzer: the small project's manifest with one value replaced (a
wrong type, a huge or negative number, NUL bytes, a long string, deep nesting, an alias bomb, an
unknown key, a path out of the project), plus raw byte mutations, each run through `plan` and
`build` in process under a time limit.

Every case must end as success or as the user's error (exit 0, 1 or 2) with no traceback and no
"internal error", and write nothing beside the project (a sentinel folder next to it must stay
as it was). `bench/faults_fuzz.py` runs the same mutations longer, in memory-limited processes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import PALETTE, SMALL, Result, run
from faultkit import deadline, problems, run_limited, snapshot
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

BASE = yaml.safe_load(SMALL)
RAW = "__RAW__"  # a placeholder string replaced by raw YAML text after dumping

PATHS = [
    "../x", "../sentinel/x.png", "/etc/passwd", ".git/config", "/dev/zero", "palettes", "",
    ".", "..", "~", "assets/../../x", "C:\\x", "a\0b", "a" * 300, "x/" * 600, "pixels.yaml",
]  # fmt: skip
NUMBERS = [2**64, 2**63 - 1, -(2**64), -1, 0, 10**9, 4097, 1025, 257, 1e308, float("inf")]


def paths(node: object, at: tuple = ()) -> list[tuple]:
    """Every place in a parsed manifest (mapping keys and list indices)."""
    found = [at]
    if isinstance(node, dict):
        for k, v in node.items():
            found += paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += paths(v, (*at, i))
    return found


PLACES = paths(BASE)[1:]

raw_snippets = st.one_of(
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 12).map(lambda n: "{a: " * n + "1" + "}" * n),
    st.just("&self [*self]"),
    st.just("!!python/object:os.system ls"),
    st.just("!!binary '@@@'"),
    st.just("2024-13-45"),
    st.just("*nowhere"),
)
values = st.one_of(
    st.sampled_from(NUMBERS),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.sampled_from(PATHS),
    st.text(max_size=20),
    st.text(alphabet="\0\x07\x1b\ufeff\u202e\ud7ffé/\\.*?[]{}:#&!|>'\"", max_size=20),
    st.integers(1000, 100_000).map(lambda n: "x" * n),
    st.lists(st.integers(), max_size=5),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    raw_snippets.map(lambda s: (RAW, s)),
)


def replace(data: object, at: tuple, value: object) -> object:
    """`data` with the value at `at` replaced (unchanged where an earlier change removed it)."""
    if not at:
        return value
    if isinstance(data, dict):
        return {k: replace(v, at[1:], value) if k == at[0] else v for k, v in data.items()}
    if isinstance(data, list):
        return [replace(v, at[1:], value) if i == at[0] else v for i, v in enumerate(data)]
    return data


@st.composite
def manifests(draw: st.DrawFn) -> bytes:
    """The small manifest with one to three places changed, or a key added or removed."""
    data: object = BASE
    raw: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.sampled_from(PLACES))
        action = draw(st.sampled_from(["value", "value", "value", "add", "drop"]))
        if action == "drop" and len(at) > 0:
            parent = _get(data, at[:-1])
            if isinstance(parent, dict):
                data = replace(data, at[:-1], {k: v for k, v in parent.items() if k != at[-1]})
            continue
        value = draw(values)
        if isinstance(value, tuple):
            raw.append(value[1])
            value = RAW
        if action == "add":
            parent = _get(data, at[:-1])
            if isinstance(parent, dict):
                key = draw(st.sampled_from(["extra", "out", "image", "file", "assets", "<<"]))
                data = replace(data, at[:-1], {**parent, key: value})
                continue
        data = replace(data, at, value)
    text = yaml.safe_dump(data, allow_unicode=True, width=10**6)
    for snippet in raw:
        text = text.replace(RAW, snippet, 1)
    if draw(st.booleans()):  # an alias bomb in an unknown section: expanded before validation
        depth = draw(st.integers(1, 9))
        text += "bomb:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
        text += "".join(
            f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, depth)
        )
    return text.encode("utf-8", "surrogatepass")


def _get(data: object, at: tuple) -> object:
    for part in at:
        if not isinstance(data, dict | list):
            return None
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def run_case(base: Path, manifest: bytes) -> list[str]:
    """Plan and build `manifest` in a fresh project beside a sentinel folder; what went wrong."""
    case = Path(tempfile.mkdtemp(dir=base))
    project, sentinel = case / "p", case / "sentinel"
    (project / "palettes").mkdir(parents=True)
    (project / "palettes" / "x.hex").write_text(PALETTE)
    (project / "pixels.yaml").write_bytes(manifest)
    sentinel.mkdir()
    (sentinel / "keep.txt").write_text("untouched")
    before = snapshot(sentinel)
    found = []
    for command in ("plan", "build"):
        try:
            with deadline(30):
                r = run([command, "-C", str(project)])
        except MemoryError:
            r = Result(-1, "", "MemoryError")
        found += [f"{command}: {p}" for p in problems(r)]
        if found:
            found.append(r.err[-2000:])
            break
    if snapshot(sentinel) != before or sorted(p.name for p in case.iterdir()) != ["p", "sentinel"]:
        found.append("a file was written outside the project")
    return found


FUZZ = settings(
    max_examples=150,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],  # no tracing "explain"
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(manifest=manifests())
def test_mutated_manifests_end_as_user_errors(tmp_path, manifest):
    assert not run_case(tmp_path, manifest), manifest.decode("utf-8", "replace")[:3000]


SPECIAL = [b"\0", b"\xff", b"\xef\xbb\xbf", b"&a ", b"*a", b"[", b"{", b": ", b"\t", b"- ", b"\r"]


@st.composite
def raw_mutations(draw: st.DrawFn) -> bytes:
    """The small manifest's bytes with a few flipped, inserted or deleted."""
    data = bytearray(SMALL.encode())
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "insert", "delete", "special"]))
        if op == "flip" and i < len(data):
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[i:i] = bytes([draw(st.integers(0, 255))])
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 20))]
        else:
            data[i:i] = draw(st.sampled_from(SPECIAL))
    return bytes(data)


@pytest.mark.slow
@settings(FUZZ, max_examples=300)
@given(manifest=raw_mutations())
def test_raw_byte_mutations_end_as_user_errors(tmp_path, manifest):
    assert not run_case(tmp_path, manifest), manifest[:3000]


@pytest.mark.parametrize(
    "place",
    [("project", "size"), ("project", "generate", "canvas"), ("animations", "walk", "frames"),
     ("tilesets", "grass", "variants"), ("sprites", "hero", "seed")],
)  # fmt: skip
def test_huge_numbers_stay_within_a_memory_limit(tmp_path, place):
    """In a 2 GiB process: a regression that allocates from a number fails, not the machine."""
    project = tmp_path / "p"
    (project / "palettes").mkdir(parents=True)
    (project / "palettes" / "x.hex").write_text(PALETTE)
    for number in (2**64, 10**10):
        text = yaml.safe_dump(replace(BASE, place, number))
        (project / "pixels.yaml").write_text(text)
        r = run_limited(["build", "-C", str(project)], timeout=60)
        assert r.code == 2 and not problems(r), r.err
