"""The job contract and the queue as arq keeps it in Redis: job names, enqueueing, status, history, heartbeats."""
