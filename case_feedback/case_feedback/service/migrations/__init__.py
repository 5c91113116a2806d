"""Alembic migrations of the feedback store; :meth:`case_feedback.service.store.Store.migrate` runs them."""
