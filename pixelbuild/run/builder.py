"""Run a plan: cached steps are reused, the rest run as soon as their inputs are ready
(generate steps in batches through their engine), each result is stored the moment it exists,
and each entry is emitted as soon as its last step is done. An interrupted build therefore
resumes where it stopped.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelbuild import defaults
from pixelbuild.cache.hashing import digest_bytes
from pixelbuild.cache.layout import TMP
from pixelbuild.cache.lock import LockedOutput, LockEntry, write_lock
from pixelbuild.cache.store import write_atomic
from pixelbuild.engines.base import Engine, GenerateRequest
from pixelbuild.errors import DiskFull, OwnershipError, PixelbuildError, as_disk_full
from pixelbuild.plan.plan import EntryPlan, Plan
from pixelbuild.plan.steps import GENERATE, TRAIN, Step, ancestors
from pixelbuild.run.actions import Result
from pixelbuild.run.generation import (
    Batch,
    Finished,
    Generated,
    GenerationRunner,
    LocalRunner,
    make_engine,
)
from pixelbuild.run.project import Project
from pixelbuild.run.report import Reporter
from pixelbuild.run.result import BuildResult, Failure
from pixelbuild.run.schedule import Schedule
from pixelbuild.targets import ImageTarget

if TYPE_CHECKING:
    from pixelbuild.remote.cache import RemoteCache, Session


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
        runner: GenerationRunner | None = None,
        remote: RemoteCache | None = None,
    ):
        self.project = project
        self.reporter = reporter
        self.force = force
        self.engine_options = engine_options or {}
        self.engines: dict[str, Engine] = engines if engines is not None else {}
        self.runner: GenerationRunner = runner or LocalRunner()  # where batches run
        self.remote = remote  # a team's cache: steps are fetched from it and pushed to it
        self._remote: Session | None = None  # its part in the build under way
        self._results: dict[str, Result] = {}
        self._uses: dict[str, int] = {}
        self._requests: dict[str, GenerateRequest] = {}
        self._references: dict[Path, Any] = {}

    # -- public --

    def build(self, plan: Plan) -> BuildResult:
        from pixelbuild.run.emit import Emitter

        started = time.perf_counter()
        p = self.project
        result = BuildResult()
        emitter = Emitter(p.assets, p.cache / TMP, p.state, p.lock, self.force)
        stale = [e for e in plan.entries if e.stale]
        result.up_to_date = plan.up_to_date
        allow_download = any(o.get("allow_download") for o in self.engine_options.values())
        try:
            for entry in stale:
                missing = p.missing_inputs(entry.name, allow_download=allow_download)
                if missing:
                    result.failed[entry.name] = Failure("; ".join(str(i) for i in missing))
                    continue
                # Fail fast, before any generation, on outputs edited since we wrote them. Files
                # we never wrote are checked at write time: identical bytes are adopted.
                conflicts = [r for out in entry.edited if (r := emitter.conflict(out))]
                if not self.force and (hand := self._hand_finished(entry)):
                    conflicts.append(hand)
                if conflicts:
                    result.failed[entry.name] = Failure("; ".join(conflicts))
            todo = [e for e in stale if e.name not in result.failed]
            if todo:
                self._run_steps(todo, result, lambda entry: self._emit(entry, emitter, result))
            for name, outputs in plan.removed.items():
                self._remove(name, outputs, emitter, result)
            self._rust_module(result)
        finally:
            emitter.close()
            self._results.clear()
            self._finish_remote(result)
            self._record(result)
            result.seconds = time.perf_counter() - started
        return result

    def realize(self, entries: list[EntryPlan]) -> BuildResult:
        """Run every step `entries` need and store the results, writing no output and no lock
        (compare cells: read them back with `result`)."""
        started = time.perf_counter()
        result = BuildResult()
        try:
            self._run_steps(entries, result, lambda entry: result.rebuilt.append(entry.name))
        finally:
            self._results.clear()
            self.project.state.commit()
            result.seconds = time.perf_counter() - started
        return result

    def result(self, step: Step) -> Result:
        """The stored result of a step that ran or was cached (PixelbuildError if neither)."""
        return self._load(step)

    def _record(self, result: BuildResult) -> None:
        """Write the lock and commit the state, however the build ended. A lock that cannot be
        written keeps the previous one (atomic replace) and fails the build."""
        p = self.project
        used = {
            lora.name
            for t in p.targets
            if isinstance(t, ImageTarget) and t.generation is not None
            for lora in t.generation.trained
        }
        p.lock.trained = {n: lora for n, lora in p.lock.trained.items() if n in used}
        try:
            p.lock.files = dict(sorted((p.lock.files | p.files).items()))
            write_lock(p.lock_path, p.lock, p.cache / TMP)
            p.state.commit()
        except (OSError, PixelbuildError) as exc:
            full = as_disk_full(exc, p.lock_path.parent)
            failure = Failure.of(full or exc)
            result.failed["pixels.lock"] = Failure(f"pixels.lock was not updated: {failure}")

    def train(self, step: Step, *, steps: int | None = None) -> tuple[Path, Path | None, bool]:
        """Run one train step (`pixelbuild train`): from the cache when it is there. With
        `steps`, a trial run that is not recorded. Returns the LoRA file, its validation sheet
        (or None) and whether it trained now."""
        from pixelbuild.run.training import materialize, run_train, trained_lora

        lora = trained_lora(step)
        device = self.engine_options.get("diffusers", {}).get("device")
        progress = self.reporter.training_progress(step.label)
        if steps is not None:
            out = run_train(step, device=device, progress=progress, steps=steps)
            trial = lora.path.with_name(f"{lora.name}-try-{steps}.safetensors")
            trial.parent.mkdir(parents=True, exist_ok=True)
            for name, data in out.files.items():
                target = trial if name.endswith(".safetensors") else trial.with_suffix(".png")
                write_atomic(target, data, self.project.cache / TMP)
            return trial, trial.with_suffix(".png") if len(out.files) > 1 else None, True
        ran = not self._cached(step)
        if ran:
            out = run_train(step, device=device, progress=progress)
            self._store(step, out)
            self._trained(step, out)
            write_lock(self.project.lock_path, self.project.lock, self.project.cache / TMP)
            self.project.state.commit()
        path = materialize(lora, self._load(step).files)
        return path, lora.sheet if lora.sheet.is_file() else None, ran

    def _hand_finished(self, entry: EntryPlan) -> str | None:
        """The conflict of rebuilding an entry whose outputs were finished by hand, if it is."""
        old = self.project.lock.entries.get(entry.name)
        if old is None or not old.hand_finished:
            return None
        files = ", ".join(old.outputs)
        return (
            f"{files} was finished by hand (pixelbuild adopt) and its inputs changed since "
            f"({'; '.join(entry.reasons)}); keep your file for the new inputs with "
            f"`pixelbuild adopt {entry.name}`, or replace it with --force"
        )

    def close(self) -> None:
        self.runner.close()
        for engine in self.engines.values():
            engine.close()
        self.engines.clear()

    # -- steps --

    def _run_steps(
        self, entries: list[EntryPlan], result: BuildResult, emit: Callable[[EntryPlan], None]
    ) -> None:
        """Run every step the entries still need, emitting each entry as soon as it is done."""
        self._pull(entries)
        needed = self._needed([e.final for e in entries])
        self._uses = {}
        for step in needed:
            for key in {s.key for s in step.inputs}:
                self._uses[key] = self._uses.get(key, 0) + 1
        schedule = Schedule(needed, entries, self._group_of)
        for entry in schedule.ready_entries():
            emit(entry)  # everything it needs is cached
        self.reporter.start(dict(Counter(s.kind for s in needed)))
        schedule.start()
        while True:
            self._report_failed(schedule)
            if (light := schedule.next_light()) is not None:
                for entry in schedule.finish(light, self._guard(light, result)):
                    emit(entry)
            elif self.runner.room() and (batch := schedule.next_batch(self._batch_size)):
                self._submit(batch)
            elif finished := self.runner.wait():
                for done in finished:
                    failure = self._generated(done, result)
                    for step in done.batch.steps:
                        for entry in schedule.finish(step, failure):
                            emit(entry)
            else:
                break
        self.reporter.finish_steps()
        for entry in entries:
            if (failure := schedule.failure_of(entry)) is not None:
                result.failed[entry.name] = failure

    def _group_of(self, step: Step) -> Hashable:
        """Which engine call a ready generate step can share (its engine and batch key)."""
        engine = self._engine(step.params["engine"])
        request = self._requests[step.key] = self._request(step)
        return (engine.name, engine.batch_key(request))

    def _batch_size(self, group: list[Step]) -> int:
        request = self._requests[group[0].key]
        return self.runner.batch_size(self._engine(group[0].params["engine"]), request)

    def _report_failed(self, schedule: Schedule) -> None:
        for step, failure, here in schedule.take_failed():
            self._release(step)
            self.reporter.step_done(step, failure if here else None, skipped=not here)

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
            return step.kind is TRAIN and self._from_export(step)
        return True

    def _from_export(self, step: Step) -> bool:
        """A train step answered by its `export:` file, when the lock says that file is what
        this very step trained (a fresh clone: no cache, no training)."""
        from pixelbuild.run.training import trained_lora
        from pixelbuild.targets.trained import LORA_DIGEST, LORA_FILE

        lora = trained_lora(step)
        locked = self.project.lock.trained.get(lora.name)
        path = lora.export_path
        if locked is None or locked.key != step.key or path is None or not path.is_file():
            return False
        data = path.read_bytes()
        if digest_bytes(data) != locked.digest:
            return False
        meta = {"from": lora.export, LORA_DIGEST: locked.digest}
        self._store(step, Result(files={LORA_FILE: data}, meta=meta))
        return True

    def _trained(self, step: Step, out: Result) -> None:
        """After a train step ran: its record in the lock and, with `export:`, the file."""
        from pixelbuild.cache.lock import LockedLora
        from pixelbuild.run.training import materialize, trained_lora
        from pixelbuild.targets.trained import LORA_DIGEST, LORA_FILE

        lora = trained_lora(step)
        data, digest = out.files[LORA_FILE], out.meta[LORA_DIGEST]
        path = lora.export_path
        if path is not None:
            previous = self.project.lock.trained.get(lora.name)
            self._export(path, data, digest, previous.digest if previous else None)
        self.project.lock.trained[lora.name] = LockedLora(step.key, digest, lora.export)
        materialize(lora, out.files)
        info = out.meta.get("train", {})
        loss = f", loss {info['loss']:.4f}" if info.get("loss") is not None else ""
        sheet = f"; validation sheet {lora.sheet}" if lora.sheet.is_file() else ""
        self.reporter.note(f"trained LoRA {lora.name}: {info.get('steps', '?')} steps{loss}{sheet}")

    def _export(self, path: Path, data: bytes, digest: str, ours: str | None) -> None:
        """Write a trained LoRA into the project, never over a file pixelbuild did not write."""
        state = self.project.state
        try:
            on_disk: str | None = state.digest(path)
        except FileNotFoundError:
            on_disk = None
        if on_disk == digest:
            return
        if on_disk is not None and not self.force and on_disk not in (ours, state.owned(path)):
            raise OwnershipError(
                f"{path} exists and was not written by pixelbuild; move it away, point "
                "`export:` elsewhere, or pass --force to overwrite it"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        state.own(path, digest)
        write_atomic(path, data, self.project.cache / TMP)
        state.remember(path, digest)

    def _guard(self, step: Step, result: BuildResult) -> Failure | None:
        """Run one step; its failure, if it fails (a bug of ours included: others go on)."""
        failure = None
        try:
            self._run_one(step)
        except Exception as exc:
            if (full := as_disk_full(exc, self.project.cache)) is not None:
                raise full from None  # stops the build; everything finished is kept
            failure = Failure.of(exc)
            if failure.internal:
                failure = Failure(f"internal error in the {step.kind.name} step: {failure}", True)
            elif isinstance(exc, OSError):
                failure = Failure(f"the {step.kind.name} step failed: {failure}")
        else:
            result.steps_run[step.kind.name] = result.steps_run.get(step.kind.name, 0) + 1
        self._release(step)
        self.reporter.step_done(step, failure)
        return failure

    def _run_one(self, step: Step) -> None:
        if step.kind is TRAIN:
            from pixelbuild.run.training import run_train

            device = self.engine_options.get("diffusers", {}).get("device")
            out = run_train(
                step, device=device, progress=self.reporter.training_progress(step.label)
            )
            self._store(step, out)
            self._trained(step, out)
            return
        inputs = [self._load(s) for s in step.inputs]
        out = step.kind.run()(step, inputs)
        self._store(step, out)
        for note in dict.fromkeys(out.meta.get("notes", [])):
            self.reporter.warn(f"{step.label}: {note}")

    def _submit(self, steps: list[Step]) -> None:
        """Hand one batch of generate steps to the runner."""
        engine = self._engine(steps[0].params["engine"])
        progress = self.reporter.generation_progress([s.label for s in steps])
        requests = [self._requests.pop(s.key) for s in steps]
        self.runner.submit(Batch(steps, engine, requests, progress))

    def _generated(self, done: Finished, result: BuildResult) -> Failure | None:
        """Store each image of a batch that came back from the runner."""
        batch = done.batch.steps
        failure = None
        try:
            if not isinstance(made := done.outcome, Generated):
                raise made
            for step, image in zip(batch, made.images, strict=True):
                provenance = made.provenance | self._trained_digests(step)
                meta = {"provenance": provenance, "seconds": made.seconds}
                self._store(step, Result(images=[image], meta=meta))
        except (PixelbuildError, OSError) as exc:
            if (full := as_disk_full(exc, self.project.cache)) is not None:
                raise full from None
            failure = Failure.of(exc)
        else:
            result.steps_run["generate"] = result.steps_run.get("generate", 0) + len(batch)
        for step in batch:
            self._release(step)
            self.reporter.step_done(step, failure)
        return failure

    def _engine(self, name: str) -> Engine:
        if name not in self.engines:
            self.engines[name] = make_engine(name, self.engine_options, self.project.cache)
        return self.engines[name]

    def _reference(self, path: Path) -> Any:
        """A reference image, read once per build."""
        if path not in self._references:
            from pixelbuild.images import read_image

            self._references[path] = read_image(path)
        return self._references[path]

    def _request(self, step: Step) -> GenerateRequest:
        target = step.target
        assert isinstance(target, ImageTarget) and target.generation is not None
        gen = target.generation
        p = step.params
        frames = [s for s in step.inputs if s.kind is not TRAIN]
        init, mask = target.init_images(p, [self._load(s).images[0] for s in frames])
        for trained in (s for s in step.inputs if s.kind is TRAIN):
            from pixelbuild.run.training import materialize, trained_lora

            materialize(trained_lora(trained), self._load(trained).files)
        return GenerateRequest(
            entry=step.label,
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
            mask=mask,
            frame=p["frame"],
            view=p.get("view"),
            references=tuple(self._reference(f.absolute) for f in gen.references),
            reference_scale=gen.reference_scale,
            ip_adapter=gen.ip_adapter,
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
        if step.kind is not GENERATE and (made := self._recorded_provenance(step)):
            record["meta"] = out.meta | {"provenance": made}  # the lock's, even on a remote hit
        self.project.state.put_record(step.key, step.kind.name, record)
        if self._remote is not None:
            self._remote.push(step, record)
        self._results[step.key] = out

    def _load(self, step: Step) -> Result:
        from pixelbuild.images import decode_png

        if step.key in self._results:
            return self._results[step.key]
        record = self.project.state.record(step.key)
        if record is None:
            raise _Missing(f"no stored result for the {step.kind.name} step of {step.label!r}")
        try:
            images = [decode_png(self._blob(d, step)) for d in record.get("blobs", [])]
            files = {path: self._blob(d, step) for path, d in record.get("files", {}).items()}
            out = Result(images=images, files=files, meta=dict(record.get("meta", {})))
        except (AttributeError, TypeError, ValueError, OSError):  # not a record we wrote
            self.project.state.drop_record(step.key)
            what = f"the stored {step.kind.name} step of {step.label!r} is unreadable"
            raise _Missing(what) from None
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
            raise _Missing(f"a blob of the {step.kind.name} step of {step.label!r} is corrupt")
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
        except DiskFull:
            raise
        except (PixelbuildError, OSError) as exc:
            result.failed[entry.name] = Failure.of(exc)
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
            locked.provenance = self._recorded_provenance(entry.final) or (
                old.provenance if old else None
            )
        locked.report = final.meta.get("report")
        p.lock.entries[entry.name] = locked
        result.rebuilt.append(entry.name)
        self.reporter.entry_done(entry.name, entry.reasons)
        seams = final.meta.get("seams", [])
        visible = [f"tile {i}: {v}" for i, v in enumerate(seams) if v > defaults.SEAM_WARNING]
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
            if write_module(path, text, p.cache / TMP, force=self.force):
                result.files_written += 1
        except (PixelbuildError, OSError) as exc:
            result.failed["rust_module"] = Failure.of(exc)

    def _trained_digests(self, step: Step) -> dict[str, Any]:
        """The digests of the LoRA files trained for a generate step (for the lock)."""
        from pixelbuild.targets.trained import LORA_DIGEST

        found = {
            s.label.removeprefix("lora:"): self._load(s).meta[LORA_DIGEST]
            for s in step.inputs
            if s.kind is TRAIN
        }
        return {"trained_loras": found} if found else {}

    def _recorded_provenance(self, final: Step) -> dict[str, Any] | None:
        """The provenance stored with the first generate step `final` depends on (so the lock
        is a function of the manifest and the stored results, not of this process). Steps
        after a generate step store it too (see `_store`), so the walk stops at the first
        record that has it, and a final step fetched alone from a remote cache answers."""
        for step in ancestors(final):
            record = self.project.state.record(step.key)
            made = (record or {}).get("meta", {}).get("provenance")
            if made:
                return dict(made)
        return None

    def _pull(self, entries: list[EntryPlan]) -> None:
        """With a remote cache: fetch what it has of the steps `entries` still need."""
        if self.remote is not None:
            p = self.project
            self._remote = self.remote.session(p.state, p.store, self.reporter.warn)
            self._remote.pull([e.final for e in entries], self._cached)

    def _finish_remote(self, result: BuildResult) -> None:
        """Wait for the pushes of this build and say what the remote cache did."""
        if self._remote is None:
            return
        result.remote = self._remote.finish()
        self._remote = None
        r = result.remote
        self.reporter.note(
            f"remote cache: {r['hits']} steps fetched ({r['fetched']} objects, "
            f"{r['fetched_bytes'] / 1e3:.1f} kB), {r['records_pushed']} pushed "
            f"({r['pushed']} objects, {r['pushed_bytes'] / 1e3:.1f} kB)"
        )

    def _remove(self, name: str, outputs: list[str], emitter: Any, result: BuildResult) -> None:
        entry = self.project.lock.entries[name]
        if entry.hand_finished and not self.force:
            kept = list(outputs)  # a person's work: never deleted by a build
        else:
            kept = [rel for rel in outputs if not emitter.remove(rel, entry.outputs[rel].digest)]
        if kept:
            result.kept.append(name)
            self.reporter.warn(
                f"entry {name!r} was removed; kept {', '.join(kept)} (edited since written)"
            )
        del self.project.lock.entries[name]
        result.removed.append(name)
