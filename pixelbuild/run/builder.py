"""Run a plan: cached steps are reused, the rest run as soon as their inputs are ready
(generate steps in batches through their engine), each result is stored the moment it exists,
and each entry is emitted as soon as its last step is done. An interrupted build therefore
resumes where it stopped.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from pixelbuild import __version__, defaults
from pixelbuild.cache.lock import LockedOutput, LockEntry, write_lock
from pixelbuild.engines.base import Engine, GenerateRequest
from pixelbuild.engines.registry import ENGINES, get_engine
from pixelbuild.errors import PixelbuildError
from pixelbuild.plan.plan import EntryPlan, Plan
from pixelbuild.plan.steps import GENERATE, Step
from pixelbuild.run.actions import Result
from pixelbuild.run.project import Project
from pixelbuild.run.report import Reporter
from pixelbuild.run.result import BuildResult
from pixelbuild.targets import ImageTarget

# The seam metric is ~1 for a tile that wraps; above this, a seam shows when tiles repeat.
SEAM_WARNING = 1.5


class _Missing(PixelbuildError):
    """A step's stored result is absent or failed verification: it must run again."""


class Builder:
    """Executes plans for one project; engines stay loaded between builds (watch mode)."""

    def __init__(
        self,
        project: Project,
        reporter: Reporter,
        *,
        force: bool = False,
        engine_options: dict[str, dict[str, Any]] | None = None,
        engines: dict[str, Engine] | None = None,
    ):
        self.project = project
        self.reporter = reporter
        self.force = force
        self.engine_options = engine_options or {}
        self.engines: dict[str, Engine] = engines if engines is not None else {}
        self._results: dict[str, Result] = {}
        self._uses: dict[str, int] = {}
        self._requests: dict[str, GenerateRequest] = {}

    # -- public --

    def build(self, plan: Plan) -> BuildResult:
        from pixelbuild.run.emit import Emitter

        started = time.perf_counter()
        p = self.project
        result = BuildResult()
        emitter = Emitter(p.assets, p.cache / "tmp", p.state, p.lock, self.force)
        stale = [e for e in plan.entries if e.stale]
        result.up_to_date = [e.name for e in plan.fresh]
        allow_download = any(o.get("allow_download") for o in self.engine_options.values())
        try:
            for entry in stale:
                missing = p.missing_inputs(entry.name, allow_download=allow_download)
                if missing:
                    result.failed[entry.name] = "; ".join(str(issue) for issue in missing)
                    continue
                # Fail fast, before any generation, on outputs edited since we wrote them. Files
                # we never wrote are checked at write time: identical bytes are adopted.
                conflicts = [r for out in entry.edited if (r := emitter.conflict(out))]
                if conflicts:
                    result.failed[entry.name] = "; ".join(conflicts)
            todo = [e for e in stale if e.name not in result.failed]
            if todo:
                self._run_steps(todo, result, lambda entry: self._emit(entry, emitter, result))
            for name, outputs in plan.removed.items():
                self._remove(name, outputs, emitter, result)
            self._rust_module(result)
        finally:
            p.lock.files = dict(sorted((p.lock.files | p.files).items()))
            write_lock(p.lock_path, p.lock, p.cache / "tmp")
            p.state.commit()
            self._results.clear()
            result.seconds = time.perf_counter() - started
        return result

    def close(self) -> None:
        for engine in self.engines.values():
            engine.close()
        self.engines.clear()

    # -- steps --

    def _run_steps(
        self, entries: list[EntryPlan], result: BuildResult, emit: Callable[[EntryPlan], None]
    ) -> None:
        """Run every step the entries still need, emitting each entry as soon as it is done.

        A dependency count per step feeds two queues: cheap steps run the moment their inputs
        are ready; generate steps run one engine batch at a time, so the outputs of a long SDXL
        build appear batch by batch, and an interrupted build keeps every finished batch.
        """
        needed = self._needed([e.final for e in entries])
        pending = {s.key for s in needed}
        waiting: dict[str, int] = {}
        children: dict[str, list[Step]] = {}
        self._uses = {}
        for step in needed:
            inputs = {s.key for s in step.inputs}
            waiting[step.key] = len(inputs & pending)
            for key in inputs:
                self._uses[key] = self._uses.get(key, 0) + 1
                if key in pending:
                    children.setdefault(key, []).append(step)
        finals: dict[str, list[EntryPlan]] = {}
        for entry in entries:
            finals.setdefault(entry.final.key, []).append(entry)
            if entry.final.key not in pending:
                emit(entry)  # everything it needs is cached
        light: deque[Step] = deque()
        generate: dict[tuple[str, Any], list[Step]] = {}  # ready, by engine and batch key
        failed: dict[str, str] = {}

        def ready(step: Step) -> None:
            bad = next((failed[s.key] for s in step.inputs if s.key in failed), None)
            if bad is None and step.kind is GENERATE:
                try:
                    engine = self._engine(step.params["engine"])
                    request = self._requests[step.key] = self._request(step)
                    generate.setdefault((engine.name, engine.batch_key(request)), []).append(step)
                    return
                except PixelbuildError as exc:  # an unknown engine, a missing model, ...
                    bad = str(exc)
            if bad is not None:
                failed[step.key] = bad
                self.reporter.step_done(step, False)
                done(step)
            else:
                light.append(step)

        def done(step: Step) -> None:
            for child in children.get(step.key, []):
                waiting[child.key] -= 1
                if waiting[child.key] == 0:
                    ready(child)
            if step.key not in failed:
                for entry in finals.get(step.key, []):
                    emit(entry)

        self.reporter.start(dict(Counter(s.kind for s in needed)))
        for step in needed:
            if waiting[step.key] == 0:
                ready(step)
        while light or generate:
            if light:
                step = light.popleft()
                self._guard(step, failed, result, lambda s=step: self._run_one(s))
                done(step)
            else:
                group = next(iter(generate))
                engine = self.engines[group[0]]
                size = max(1, engine.batch_size(self._requests[generate[group][0].key]))
                batch, generate[group] = generate[group][:size], generate[group][size:]
                if not generate[group]:
                    del generate[group]
                self._generate(engine, batch, failed, result)
                for step in batch:
                    done(step)
        self.reporter.finish_steps()
        for entry in entries:
            if entry.final.key in failed:
                result.failed[entry.name] = failed[entry.final.key]

    def _needed(self, finals: list[Step]) -> list[Step]:
        """Steps that must run for `finals`, inputs first; stops at steps already cached."""
        order: list[Step] = []
        seen: set[str] = set()

        def visit(step: Step) -> None:
            if step.key in seen:
                return
            seen.add(step.key)
            if self._cached(step):
                return
            for s in step.inputs:
                visit(s)
            order.append(step)

        for final in finals:
            visit(final)
        return order

    def _cached(self, step: Step) -> bool:
        """Whether `step` has a stored result whose blobs all read back intact.

        Every cached step this is asked about is read later anyway (a final step to emit, or an
        input of a step that runs), so it is loaded and verified here: a corrupt or missing blob
        makes the step a miss, to be run again, instead of failing the build.
        """
        try:
            self._load(step)
        except _Missing:
            return False
        return True

    def _guard(
        self, step: Step, failed: dict[str, str], result: BuildResult, run: Callable[[], None]
    ) -> None:
        try:
            run()
        except PixelbuildError as exc:
            failed[step.key] = str(exc)
        except (OSError, ValueError) as exc:
            failed[step.key] = f"{step.kind} failed: {exc}"
        else:
            result.steps_run[step.kind.name] = result.steps_run.get(step.kind.name, 0) + 1
        self._release(step)
        self.reporter.step_done(step, step.key not in failed)

    def _run_one(self, step: Step) -> None:
        inputs = [self._load(s) for s in step.inputs]
        self._store(step, step.kind.run()(step, inputs))

    def _generate(
        self, engine: Engine, batch: list[Step], failed: dict[str, str], result: BuildResult
    ) -> None:
        """Run one batch through its engine and store each image as it comes back."""
        try:
            progress = self.reporter.generation_progress([s.entry for s in batch])
            requests = [self._requests.pop(s.key) for s in batch]
            images = engine.generate(requests, progress)
            for step, image in zip(batch, images, strict=True):
                self._store(step, Result(images=[image]))
        except PixelbuildError as exc:
            for step in batch:
                failed[step.key] = str(exc)
        else:
            result.steps_run["generate"] = result.steps_run.get("generate", 0) + len(batch)
        for step in batch:
            self._release(step)
            self.reporter.step_done(step, step.key not in failed)

    def _engine(self, name: str) -> Engine:
        if name not in self.engines:
            options = dict(self.engine_options.get(name, {}))
            if ENGINES[name].compiled:
                options["cache_dir"] = self.project.cache
            self.engines[name] = get_engine(name, **options)
        return self.engines[name]

    def _request(self, step: Step) -> GenerateRequest:
        target = step.target
        assert isinstance(target, ImageTarget) and target.generation is not None
        gen = target.generation
        p = step.params
        init = self._load(step.inputs[0]).images[0] if step.inputs else None
        return GenerateRequest(
            entry=step.entry,
            prompt=p["prompt"],
            seed=p["seed"],
            width=gen.canvas[0],
            height=gen.canvas[1],
            negative_prompt=gen.negative,
            steps=gen.steps,
            guidance=gen.guidance,
            scheduler=gen.scheduler,
            model=gen.model,
            loras=gen.loras,
            tileable=p["tileable"],
            init_image=init,
            strength=p.get("strength", defaults.STRENGTH),
            frame=p["frame"],
            frames=p["frames"],
            fallback=gen.fallback,
        )

    # -- results --

    def _store(self, step: Step, out: Result) -> None:
        from pixelbuild.images import encode_png

        store = self.project.store
        fast = step.kind.raw_blobs
        record: dict[str, Any] = {"meta": out.meta}
        if out.images:
            record["blobs"] = [store.put(encode_png(img, fast=fast)) for img in out.images]
        if out.files:
            record["files"] = {path: store.put(data) for path, data in out.files.items()}
        self.project.state.put_record(step.key, step.kind.name, record)
        self._results[step.key] = out

    def _load(self, step: Step) -> Result:
        from pixelbuild.images import decode_png

        if step.key in self._results:
            return self._results[step.key]
        record = self.project.state.record(step.key)
        if record is None:
            raise _Missing(f"no stored result for the {step.kind} step of {step.entry!r}")
        images = [decode_png(self._blob(d, step)) for d in record.get("blobs", [])]
        files = {path: self._blob(d, step) for path, d in record.get("files", {}).items()}
        out = Result(images=images, files=files, meta=record.get("meta", {}))
        self._results[step.key] = out
        return out

    def _release(self, step: Step) -> None:
        """Forget results nobody else needs, so a large build does not hold every image."""
        for key in {s.key for s in step.inputs}:
            self._uses[key] = self._uses.get(key, 1) - 1
            if self._uses[key] <= 0:
                self._results.pop(key, None)

    def _blob(self, digest: str, step: Step) -> bytes:
        data = self.project.store.get(digest)
        if data is None:  # missing or corrupt (the store removed it): forget the record
            self.project.state.drop_record(step.key)
            raise _Missing(f"a blob of the {step.kind} step of {step.entry!r} is missing/corrupt")
        return data

    # -- emission --

    def _emit(self, entry: EntryPlan, emitter: Any, result: BuildResult) -> None:
        p = self.project
        try:
            final = self._load(entry.final)
            files = final.files
            outputs: dict[str, LockedOutput] = {}
            for rel in entry.outputs:
                digest, changed = emitter.write(rel, files[rel])
                outputs[rel] = LockedOutput(digest, len(files[rel]))
                result.files_written += changed
        except PixelbuildError as exc:
            result.failed[entry.name] = str(exc)
            return
        finally:
            self._results.pop(entry.final.key, None)
        old = p.lock.entries.get(entry.name)
        for rel, info in (old.outputs if old else {}).items():
            if rel not in outputs and not emitter.remove(rel, info.digest):
                self.reporter.warn(f"kept {p.assets / rel}: edited since it was written")
        t = entry.target
        locked = LockEntry(t.kind, entry.final.key, entry.fields, outputs)
        if isinstance(t, ImageTarget):
            locked.seed = t.seed
            locked.engine = t.generation.engine if t.generation else "image"
            locked.provenance = self._provenance(locked.engine, old.provenance if old else None)
        p.lock.entries[entry.name] = locked
        result.rebuilt.append(entry.name)
        self.reporter.entry_done(entry.name, entry.reasons)
        seams = final.meta.get("seams", [])
        visible = [f"tile {i}: {v}" for i, v in enumerate(seams) if v > SEAM_WARNING]
        if visible:
            self.reporter.warn(f"tileset {entry.name!r} has visible seams ({', '.join(visible)})")

    def _rust_module(self, result: BuildResult) -> None:
        from pixelbuild.run.rustmodule import module_text, write_module

        p = self.project
        if not p.manifest.project.rust_module:
            return
        path = p.dir / p.manifest.project.rust_module
        try:
            text = module_text(p.targets)
            if write_module(path, text, p.cache / "tmp", force=self.force):
                result.files_written += 1
        except (PixelbuildError, ValueError) as exc:
            result.failed["rust_module"] = str(exc)

    def _provenance(self, engine: str, previous: dict[str, Any] | None) -> dict[str, Any]:
        if engine not in self.engines:  # nothing was generated here: keep what made the images
            return previous or {"pixelbuild": __version__}
        info = {"pixelbuild": __version__, "engine": f"{engine} {ENGINES[engine].version}"}
        provenance = getattr(self.engines[engine], "provenance", None)
        return info | (provenance() if callable(provenance) else {})

    def _remove(self, name: str, outputs: list[str], emitter: Any, result: BuildResult) -> None:
        entry = self.project.lock.entries[name]
        kept = [rel for rel in outputs if not emitter.remove(rel, entry.outputs[rel].digest)]
        if kept:
            result.kept.append(name)
            self.reporter.warn(
                f"entry {name!r} was removed; kept {', '.join(kept)} (edited since written)"
            )
        del self.project.lock.entries[name]
        result.removed.append(name)
