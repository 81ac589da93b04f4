"""The arq worker: coroutine jobs on one event loop, started by `arq worker.settings.WorkerSettings`."""
