"""The language service: tornado handlers, settings, and the serve loop.

It keeps tornado rather than moving onto the shared ASGI stack (Starlette under Uvicorn): it
stands in for an external dependency the transformer reaches over HTTP, its image holds neither
KServe nor Starlette (``case_serving`` imports nothing by itself, so the service takes only the
modules it uses), and one small route needs no framework above a server. What every service
shares, it shares: its refusals carry their status (``case_serving.refusals``), it reads its JSON
body with ``case_serving.json_body``, refuses a body over ``--max-body-bytes`` with the same 413
before buffering it, and stops with the shared readiness drain (``case_serving.readiness.Drain``).
"""
