"""The ready queue of a build: which steps may run now, and what a failure takes down with it.

What is ready is kept apart from how a step runs (ninja's Plan and Builder): the builder asks
for work, runs it, and reports each step back with `finish`. A step is ready once every input it
waits for has finished. Cheap steps are handed out first, the moment they are ready; generate
steps wait in groups that can share one engine call and are handed out a batch at a time, so a
long SDXL build writes its outputs batch by batch and an interrupted build keeps each finished
batch. A failed step fails every step that needs it, with the same `Failure`.

Batches are a function of the plan, not of timing, so a build on a cluster (batches in flight
on several GPUs, finishing in any order) forms exactly the batches of a local build: they are
cut in waves. A wave is every generate step ready once no batch is out; its groups are taken in
the order of their batch keys, each sorted by step key and cut every `size(group)` steps (a
fixed number per engine and key). Steps that become ready during a wave wait for the next.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable

from pixelbuild.errors import PixelbuildError
from pixelbuild.plan.plan import EntryPlan
from pixelbuild.plan.steps import GENERATE, Step
from pixelbuild.run.result import Failure


class Schedule:
    """The steps of one build still to run, for the entries given."""

    def __init__(
        self,
        needed: list[Step],
        entries: Iterable[EntryPlan],
        group_of: Callable[[Step], Hashable],
    ):
        """`needed`: the steps to run, inputs first; `group_of(step)`: which engine call a ready
        generate step can share (it may raise a PixelbuildError: the step then fails)."""
        self.group_of = group_of
        self.failures: dict[str, Failure] = {}  # step key -> why it did not run
        self._pending = {s.key for s in needed}
        self._waiting: dict[str, int] = {}
        self._children: dict[str, list[Step]] = {}
        for step in needed:
            inputs = {s.key for s in step.inputs} & self._pending
            self._waiting[step.key] = len(inputs)
            for key in inputs:
                self._children.setdefault(key, []).append(step)
        self._finals: dict[str, list[EntryPlan]] = {}
        for entry in entries:
            self._finals.setdefault(entry.final.key, []).append(entry)
        self._light: deque[Step] = deque()
        self._groups: dict[Hashable, list[Step]] = {}  # ready generate steps by engine call
        self._wave: deque[list[Step]] = deque()  # the batches of this wave not handed out yet
        self._out: set[str] = set()  # generate steps handed out and not finished
        self._initial = [s for s in needed if self._waiting[s.key] == 0]
        self._failed: list[tuple[Step, Failure, bool]] = []

    def ready_entries(self) -> list[EntryPlan]:
        """Entries whose final step is cached already: ready to emit before anything runs."""
        return [e for key, es in self._finals.items() if key not in self._pending for e in es]

    def start(self) -> None:
        """Queue the steps that wait for nothing."""
        for step in self._initial:
            self._ready(step)
        self._initial = []

    def next_light(self) -> Step | None:
        """A ready step that is not a generation, or None."""
        return self._light.popleft() if self._light else None

    def next_batch(self, size: Callable[[list[Step]], int]) -> list[Step] | None:
        """The next batch of the current wave (up to `size(group)` ready generate steps that
        share one engine call), or None: the wave is handed out, or nothing is ready."""
        if not self._wave and not self._out:
            self._wave = deque(self._cut(size))
        if not self._wave:
            return None
        batch = self._wave.popleft()
        self._out.update(s.key for s in batch)
        return batch

    def _cut(self, size: Callable[[list[Step]], int]) -> list[list[Step]]:
        """Every ready generate step as batches: groups in batch-key order, each sorted by step
        key and cut every `size(group)` steps."""
        batches = []
        for _, group in sorted(self._groups.items(), key=lambda item: repr(item[0])):
            group = sorted(group, key=lambda s: s.key)
            n = max(1, size(group))
            batches += [group[i : i + n] for i in range(0, len(group), n)]
        self._groups = {}
        return batches

    def finish(self, step: Step, failure: Failure | None = None) -> list[EntryPlan]:
        """Record that `step` ran (or failed); returns the entries it completed (to emit)."""
        if failure is not None:
            self.failures[step.key] = failure
        self._out.discard(step.key)
        for child in self._children.get(step.key, []):
            self._waiting[child.key] -= 1
            if self._waiting[child.key] == 0:
                self._ready(child)
        return [] if failure is not None else list(self._finals.get(step.key, []))

    def take_failed(self) -> list[tuple[Step, Failure, bool]]:
        """Steps that failed inside the schedule since the last call: (step, failure, whether it
        failed there, rather than because an input failed)."""
        failed, self._failed = self._failed, []
        return failed

    def failure_of(self, entry: EntryPlan) -> Failure | None:
        return self.failures.get(entry.final.key)

    def _ready(self, step: Step) -> None:
        failures = self.failures
        inherited = next((failures[s.key] for s in step.inputs if s.key in failures), None)
        if inherited is not None:
            self._failed.append((step, inherited, False))
            self.finish(step, inherited)
        elif step.kind is GENERATE:
            try:
                self._groups.setdefault(self.group_of(step), []).append(step)
            except PixelbuildError as exc:  # an engine that cannot load, a bad request, ...
                failure = Failure.of(exc)
                self._failed.append((step, failure, True))
                self.finish(step, failure)
        else:
            self._light.append(step)
