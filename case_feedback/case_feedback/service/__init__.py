"""The feedback service (``python -m case_feedback``).

The transformer posts every answered case to it (``POST /v1/predictions``); the CRM posts agents'
corrections (``POST /v1/corrections``); ``GET /v1/quality`` and ``/metrics`` say, per model
version, how often agents disagree; ``DELETE /v1/cases/{case_id}`` erases a case. The store
(:mod:`case_feedback.service.store`) is a SQLite file by default and PostgreSQL by URL, its schema
kept by Alembic migrations (``migrations/``).
"""
