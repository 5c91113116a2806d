"""A language service whose behaviour a test switches at run time: the faults of a real one.

``POST /control {"mode": ...}`` sets the mode for the following detect calls:
``ok`` (answers like the reference service, with the same detector), ``slow`` (answers after
``delay`` seconds, and then ``pl`` for every text: an answer that arrives late is recognisable,
whereas the transformer's fallback says ``en`` for an English case), ``error`` (HTTP 500),
``garbage`` (200 with a body that is not the contract), ``close`` (drops the connection without
answering). ``GET /calls`` counts detect calls.
Run as ``python -m tests.support.fault_language --port N``.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
import tornado.web

from case_model import LocalDetector


class State:
    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 1.0
        self.calls = 0
        self.detector = LocalDetector()


class Detect(tornado.web.RequestHandler):
    def initialize(self, state: State) -> None:
        self.state = state

    async def post(self) -> None:
        self.state.calls += 1
        mode = self.state.mode
        if mode == "slow":
            await asyncio.sleep(self.state.delay)
        if mode == "error":
            self.set_status(500)
            self.finish(b'{"error": "injected failure"}')
            return
        if mode == "garbage":
            self.finish(b'{"not": "a list"}')
            return
        if mode == "close":
            self.request.connection.close()
            return
        texts = orjson.loads(self.request.body)["texts"]
        if mode == "slow":
            self.finish(orjson.dumps([{"language": "pl", "confidence": 0.99} for _ in texts]))
            return
        self.finish(
            orjson.dumps(
                [{"language": d.language, "confidence": d.confidence} for d in self.state.detector.detect_many(texts)]
            )
        )


class Control(tornado.web.RequestHandler):
    def initialize(self, state: State) -> None:
        self.state = state

    def post(self) -> None:
        body = orjson.loads(self.request.body)
        self.state.mode = body["mode"]
        self.state.delay = float(body.get("delay", self.state.delay))
        self.finish({"mode": self.state.mode})

    def get(self) -> None:
        self.finish({"mode": self.state.mode, "calls": self.state.calls})


class Ready(tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish({"ready": True})


async def main(port: int) -> None:
    state = State()
    app = tornado.web.Application(
        [
            (r"/v1/detect", Detect, {"state": state}),
            (r"/control", Control, {"state": state}),
            (r"/calls", Control, {"state": state}),
            (r"/readyz", Ready),
        ]
    )
    app.listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
