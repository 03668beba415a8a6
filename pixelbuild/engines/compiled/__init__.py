"""Compiled SDXL engines: a UNet exported with torch.export and compiled ahead of time.

A profile (`engines/*.yaml`, see `profile.py`) names a model, a compiler (`tensorrt` or `inductor`),
a target GPU architecture, a precision and static shape buckets. `pixelbuild engines build` exports
the model's UNet at every bucket and compiles it (`build.py`); the results live in the project cache
keyed by everything they depend on (`store.py`). The `inductor` and `tensorrt` engines
(`engine.py`) are the diffusers engine with the UNet's forward replaced by a matching compiled
module. Nothing here imports torch at module import except `build.py` and `engine.py` internals.
"""
