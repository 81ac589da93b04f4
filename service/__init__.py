"""The Starlette web service: auth, chat over WebSocket, memory; it enqueues jobs by name."""
