"""Python client of the actserve activation-function service.

    from actserve import Client
    with Client("127.0.0.1:50051") as client:
        y = client.evaluate("gelu", x)
        gx, param_grads = client.evaluate("swish", x, mode="backward",
                                          grad_output=g, beta=1.5)

`python3 -m actserve list|eval|health` does the same from a shell. The gRPC
stubs live in actserve.v1 (the proto's package), generated from proto/ by
client/python/generate_stubs.sh.
"""

from actserve.client import ActservError, BackwardResult, Client

__all__ = ["ActservError", "BackwardResult", "Client"]
__version__ = "0.1.0"
