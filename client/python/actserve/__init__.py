"""Python client of the actserve activation-function service.

    from actserve import Client
    with Client("127.0.0.1:50051") as client:
        y = client.evaluate("gelu", x)
        gx, param_grads = client.evaluate("swish", x, mode="backward",
                                          grad_output=g, beta=1.5)

The gRPC stubs are generated at build time into actserve/gen/ (see
client/README.md); protoc names their modules after the proto path,
actserve.v1, so that folder is added to this package's search path.
"""

import os as _os

__path__.append(_os.path.join(_os.path.dirname(__file__), "gen", "actserve"))

from actserve.client import ActservError, Client  # noqa: E402

__all__ = ["ActservError", "Client"]
