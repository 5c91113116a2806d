"""The serving plumbing the services share, one module per job. Nothing is imported here: the
language service's image holds no KServe and no Starlette, so each service imports the modules
it uses, and only those.

By concern:

- **Configuration and logs** (every service): ``settings`` (typed settings from environment and
  flags), ``logs`` (JSON lines, request ids).
- **Refusing a request** (every service): ``refusals`` (the refusal classes, each with its status,
  and short messages), ``http_errors`` (their FastAPI handler, and V2 bodies for FastAPI's own),
  ``asgi_answers`` (a JSON answer or error sent at the ASGI level, before any framework),
  ``body_limit`` (413 before a body is buffered), ``json_body`` (a JSON body, one wording when
  it is not), ``identifiers`` (ids a store can keep),
  ``limits`` (a V2 request's shape limits).
- **Lifecycle of a process**: ``readiness`` (the readiness gate and the drain), ``http_server``
  (an ASGI service under Uvicorn with that drain), ``warmup`` (ready only after real requests).
- **Who may call**: ``tokens`` (JWT verification), ``access`` (roles and rates per principal),
  ``access_http`` and ``access_grpc`` (the same gate on each transport).
- **The V2 front of a KServe model** (predictor and transformer): ``serve`` (wiring), ``rest_app``
  and ``rest_infer`` (the REST routes), ``infer_front`` (the infer route, answered ahead of the
  FastAPI app), ``grpc_infer`` (gRPC), ``tensors`` and ``schema`` (V2
  tensors in and out), ``versions`` (versioned paths), ``model_labels`` (the served version and its
  labels), ``repository`` (the sealed model repository), ``openapi`` (the contract document),
  ``lifecycle`` and ``kserve_adapter`` (KServe's model lifecycle and server, adapted),
  ``batching`` (concurrent requests into one model call).
"""
