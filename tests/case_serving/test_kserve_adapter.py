"""The adapter's assumptions about KServe, checked against the installed version: if KServe (or
Uvicorn under it) changes what the adapter relies on, this fails and says what to re-check."""

from __future__ import annotations

import inspect
from importlib import metadata

import uvicorn
from kserve import ModelServer
from kserve.protocol.rest import server as kserve_rest

from case_serving.kserve_adapter import KSERVE_VERSION, CaseModelServer


def test_the_installed_kserve_is_the_version_the_adapter_was_written_against():
    installed = metadata.version("kserve")
    assert installed == KSERVE_VERSION, (
        f"KServe {installed} is installed; case_serving/kserve_adapter.py was written against {KSERVE_VERSION}: "
        "re-check each point of its docstring, then update KSERVE_VERSION"
    )


def test_model_server_gathers_its_servers_list_and_stops_through_stop():
    server = ModelServer(enable_grpc=False)
    assert server.servers == []  # the awaitables start() gathers: ours are appended there
    assert "enable_grpc" in inspect.signature(ModelServer.__init__).parameters
    assert "registered_models" in inspect.signature(ModelServer.__init__).parameters
    assert "self.servers" in inspect.getsource(ModelServer._serve)  # what start() runs
    assert "self.stop(sig)" in inspect.getsource(ModelServer.register_signal_handler)


def test_uvicorn_re_raises_the_signal_after_its_shutdown():
    """KServe's stop (and so ours, and the gRPC server's) runs because Uvicorn re-raises SIGTERM."""
    assert "signal.raise_signal" in inspect.getsource(uvicorn.Server.capture_signals)
    assert isinstance(uvicorn.Server.handle_exit, type(uvicorn.Server.capture_signals))


def test_kserve_still_adds_the_timing_middleware_through_add_middleware():
    source = inspect.getsource(kserve_rest)
    assert "add_middleware(" in source
    assert "TimingMiddleware" in source


def test_our_server_switches_kserve_grpc_off_and_keeps_the_rest():
    from case_serving.readiness import Drain

    server = CaseModelServer(Drain(0), None, [], [], http_port=0)
    assert server.enable_grpc is False


def test_kserve_makes_its_rest_server_before_its_loop_and_uvicorn_serves_an_application_object():
    """``CaseModelServer._serve`` gives the REST server's Uvicorn config our front (the lean infer
    route) once ``start`` has made that server, and Uvicorn takes an application object as is."""
    source = inspect.getsource(ModelServer.start)
    assert "self._rest_server = RESTServer(" in source
    assert source.index("self._rest_server = RESTServer(") < source.index("asyncio.run(self._serve())")
    assert "self._server.serve()" in inspect.getsource(kserve_rest.RESTServer.start)

    async def application(scope, receive, send) -> None:  # pragma: no cover - loaded, never called
        pass

    config = uvicorn.Config(application, proxy_headers=False)
    config.load()
    assert config.loaded_app is application
