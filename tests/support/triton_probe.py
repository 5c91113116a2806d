"""``python -m tests.support.triton_probe``: ask a running service with Triton's ``tritonclient``.

A process of its own: ``tritonclient.grpc`` and KServe register the same protobuf package
(``inference``), which one interpreter refuses. Prints one JSON object: the outputs read, each as
the list ``as_numpy`` gave (bytes decoded), or the error the server answered with. It asks with a token of ``--role`` (a
CRM's by default; ``--role=`` for none), as ``authorization`` header or gRPC metadata.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("protocol", choices=["http", "grpc"])
    parser.add_argument("url")
    parser.add_argument("--model", default="case-classifier")
    parser.add_argument("--text", action="append", required=True)
    parser.add_argument("--output", action="append", default=[])
    parser.add_argument("--binary", action="store_true", help="HTTP: ask for binary outputs")
    parser.add_argument("--role", default="crm", help="the token's role (empty: no token)")
    args = parser.parse_args()
    headers = None
    if args.role:
        from tests.support.auth import token

        headers = {"authorization": f"Bearer {token(args.role)}"}
    if args.protocol == "http":
        import tritonclient.http as triton
    else:
        import tritonclient.grpc as triton
    from tritonclient.utils import InferenceServerException

    client = triton.InferenceServerClient(url=args.url)
    tensor = triton.InferInput("text", [len(args.text)], "BYTES")
    tensor.set_data_from_numpy(np.array(args.text, dtype=np.object_))
    if args.protocol == "http":
        outputs = [triton.InferRequestedOutput(name, binary_data=args.binary) for name in args.output]
    else:
        outputs = [triton.InferRequestedOutput(name) for name in args.output]
    try:
        result = client.infer(args.model, [tensor], outputs=outputs or None, headers=headers)
    except InferenceServerException as error:
        print(json.dumps({"error": error.message(), "status": str(error.status())}))
        return
    finally:
        client.close()
    response = result.get_response()
    if args.protocol == "http":
        names = [output["name"] for output in response["outputs"]]
        raw = None
    else:
        names = [output.name for output in response.outputs]
        raw = len(response.raw_output_contents)
    read = {}
    for name in names:
        array = result.as_numpy(name)
        read[name] = {
            "dtype": str(array.dtype),
            "shape": list(array.shape),
            "values": [
                v.decode() if isinstance(v, bytes) else v if isinstance(v, str) else float(v)
                for v in array.ravel().tolist()
            ],
        }
    print(json.dumps({"numpy": np.__version__, "outputs": names, "raw_contents": raw, "read": read}))


if __name__ == "__main__":
    main()
