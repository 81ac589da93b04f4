"""`arq worker.settings.WorkerSettings`: the worker as arq's CLI expects it, a class of options."""

from __future__ import annotations

from shared.settings import load_settings
from worker.options import worker_options
from worker.preflight import check_worker_can_start

settings = load_settings()
# Fails here, before arq connects, with one line naming the setting.
check_worker_can_start(settings)

WorkerSettings = type("WorkerSettings", (), worker_options(settings))
