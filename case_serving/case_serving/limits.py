"""What one request may hold, checked from its shape before any of its content is decoded.

A request's cost must be bounded before it is paid: a body with 150,000 ``inputs`` entries cost
3.6 s before it was refused, a tensor of millions of elements was decoded before the batch-size
check, and refusals echoed every unknown name into megabyte log lines. So the count of inputs,
each tensor's declared shape, its element count and the lengths of identifiers are checked here,
over REST and gRPC alike, each before the work it guards; and every refusal names at most a few
offenders, each cut short, with the count of the rest (:mod:`case_serving.refusals`).
"""

from __future__ import annotations

from dataclasses import dataclass

from kserve.errors import InvalidInput

from case_serving.identifiers import MAX_CASE_ID_CHARS, MAX_REQUEST_ID_CHARS
from case_serving.refusals import name_offenders


@dataclass(frozen=True)
class RequestLimits:
    """The shape limits of one model's requests.

    Args:
        inputs: The names of the inputs the model takes (a request has at most this many).
        max_cases: Most elements per input tensor (cases per request).
        outputs: The names of the outputs the model gives (a request may ask for some of them).
    """

    inputs: tuple[str, ...]
    max_cases: int
    outputs: tuple[str, ...] = ()
    max_request_id_chars: int = MAX_REQUEST_ID_CHARS
    max_case_id_chars: int = MAX_CASE_ID_CHARS

    def check_input_count(self, count: int) -> None:
        """Refuse more input tensors than the model has inputs, before any is looked at."""
        if count > len(self.inputs):
            raise InvalidInput(
                f"request has {count} inputs; this model takes at most {len(self.inputs)} ({', '.join(self.inputs)})"
            )

    def check_output_count(self, count: int) -> None:
        """Refuse a request for more outputs than the model has, before any is looked at."""
        if count > len(self.outputs):
            raise InvalidInput(f"request asks for {count} outputs; this model has {len(self.outputs)}")

    def check_requested_outputs(self, names: list[str]) -> None:
        """Refuse a request for outputs the model does not give."""
        self.check_output_count(len(names))
        unknown = [name for name in names if name not in self.outputs]
        if unknown:
            raise InvalidInput(f"unknown output(s) {name_offenders(unknown)}; this model has {list(self.outputs)}")

    def check_cases(self, name: str, declared: int) -> None:
        """Refuse a tensor whose declared length is over the per-request maximum."""
        if declared > self.max_cases:
            raise InvalidInput(f"batch of {declared} cases exceeds the maximum of {self.max_cases} per request")

    def check_request_id(self, request_id: object, where: str = "id") -> None:
        """Refuse a request id that is not a string of printable characters within the length limit."""
        if request_id is None or request_id == "":
            return
        if not isinstance(request_id, str):
            raise InvalidInput(f"{where}: must be a string")
        if len(request_id) > self.max_request_id_chars:
            raise InvalidInput(f"{where}: {len(request_id)} characters; at most {self.max_request_id_chars} accepted")
        if not request_id.isprintable():
            raise InvalidInput(f"{where}: must hold printable characters only")
