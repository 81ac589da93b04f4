"""The arq worker: coroutine jobs on one event loop, started by `python -m worker run`."""
