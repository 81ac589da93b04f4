"""Structures shared by every process in Redis: rate limits, reply leases, reply streams."""
