"""`WorkerSettings`: the worker's options as arq's CLI expects them, a class (the name is
arq's; the options come from worker/arq_options.py, the configuration from shared/process/settings.py).

Used by `arq --check worker.settings.WorkerSettings` (the container health check). To run
workers use `python -m worker run`: arq's CLI would run its base Worker, which exits on the
first Redis error, not our ResilientWorker (worker/resilient.py).
"""

from __future__ import annotations

from shared.process.settings import exit_on_settings_error, load_settings
from worker.arq_options import worker_options
from worker.preflight import check_worker_can_start

# arq's CLI imports this module: an entry point. Fails here, before arq connects, with one
# line naming the setting and exit 1.
with exit_on_settings_error():
    settings = load_settings()
    check_worker_can_start(settings)

WorkerSettings = type("WorkerSettings", (), worker_options(settings))
