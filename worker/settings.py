"""`arq worker.settings.WorkerSettings`: the worker as arq's CLI expects it, a class of options."""

from __future__ import annotations

from shared.settings import load_settings
from worker.options import worker_options

settings = load_settings()

WorkerSettings = type("WorkerSettings", (), worker_options(settings))
