"""Structured logs with the request id, shared by the three services."""
