"""The all-in-one: service and worker on one event loop, for a laptop. Only wiring lives here."""
