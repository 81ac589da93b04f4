"""The base layer: settings, MongoDB access, models, LLM providers and job names.

`service` and `worker` both build on this package and never import each other.
"""
