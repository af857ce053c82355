"""python3 -m actserve: list, eval and health from a shell, with the flags
of the C++ actserve-client's commands of the same names.

Exit codes as there: 0 success, 1 failure (the message names the gRPC
status), 2 bad usage.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any, Dict, List, Optional, Sequence

import grpc
import numpy as np
from google.protobuf import json_format

from actserve.client import ActservError, Client
from actserve.v1 import actserve_pb2

EXIT_FAILURE = 1
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)?")
_UNIT_SECONDS = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_KINDS = {
    actserve_pb2.ActivationInfo.KIND_ELEMENTWISE: "elementwise",
    actserve_pb2.ActivationInfo.KIND_ALONG_AXIS: "along axis",
    actserve_pb2.ActivationInfo.KIND_GROUPED: "grouped",
}


def _duration(text: str) -> float:
    """Seconds from "60s", "500ms", "2m" or a plain number of seconds, as
    actserve-client's --deadline takes them."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a duration such as 5s, 500ms or 2m")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _add_connection_flags(parser: argparse.ArgumentParser,
                          deadline: str) -> None:
    parser.add_argument(
        "--target", default="127.0.0.1:50051", metavar="ADDR",
        help="server address: host:port, unix:/path, dns:///host:port or "
             "ipv4:a:p,b:p (several: round-robin) (default: %(default)s)")
    parser.add_argument("--tls", action="store_true",
                        help="use TLS with the system's root certificates")
    parser.add_argument("--tls-ca", metavar="FILE",
                        help="PEM root certificates to verify the server "
                             "(implies --tls)")
    parser.add_argument("--tls-cert", metavar="FILE",
                        help="PEM client certificate chain, for mutual TLS")
    parser.add_argument("--tls-key", metavar="FILE",
                        help="PEM private key of --tls-cert")
    parser.add_argument("--tls-server-name", metavar="NAME",
                        help="name to verify in the server certificate "
                             "instead of the target's host")
    parser.add_argument("--deadline", type=_duration, default=deadline,
                        metavar="DURATION",
                        help="deadline of each call (default: %(default)s)")
    parser.add_argument("--max-message-bytes", type=int, default=64 << 20,
                        metavar="BYTES",
                        help="largest gRPC message sent or received "
                             "(default: %(default)s)")


def _read(path: Optional[str]) -> Optional[bytes]:
    if path is None:
        return None
    with open(path, "rb") as file:
        return file.read()


def _client(args: argparse.Namespace, **kwargs: Any) -> Client:
    credentials = None
    options = []
    if args.tls or args.tls_ca or args.tls_cert:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(args.tls_ca),
            private_key=_read(args.tls_key),
            certificate_chain=_read(args.tls_cert))
    if args.tls_server_name:
        options.append(("grpc.ssl_target_name_override",
                        args.tls_server_name))
    return Client(args.target, credentials=credentials,
                  timeout=args.deadline,
                  max_message_bytes=args.max_message_bytes, options=options,
                  **kwargs)


def _parameter_list(info: actserve_pb2.ActivationInfo) -> str:
    """"alpha=0.01 axis=-1", defaults as the server reports them."""
    return " ".join(
        f"{p.name}=[...]"
        if p.type == actserve_pb2.ParameterInfo.TYPE_CHANNEL_TENSOR
        else f"{p.name}={p.default_value:g}" for p in info.parameters)


def _list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        catalog = client.list_activations()
    if args.json:
        print(json_format.MessageToJson(
            actserve_pb2.ListActivationsResponse(activations=catalog),
            including_default_value_fields=True))
    elif args.names:
        for info in catalog:
            print(info.name)
    else:
        rows = [("NAME", "KIND", "PARAMETERS", "ULP f32", "ULP f64",
                 "FORMULA")]
        rows += [(info.name, _KINDS.get(info.kind, "?"),
                  _parameter_list(info), f"{info.max_ulp_float32:g}",
                  f"{info.max_ulp_float64:g}", info.formula)
                 for info in catalog]
        name_width = max(len(row[0]) for row in rows)
        params_width = max(len(row[2]) for row in rows)
        for name, kind, params, ulp32, ulp64, formula in rows:
            print(f"{name:<{name_width}}  {kind:<11}  "
                  f"{params:<{params_width}}  {ulp32:>8}  {ulp64:>8}  "
                  f"{formula}")
    return 0


def _params(items: Sequence[str]) -> Dict[str, Any]:
    """--param KEY=VALUE list as evaluate() keywords; channel_alpha is a
    comma list or a .npy file."""
    params: Dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--param {item}: expected KEY=VALUE")
        if key == "channel_alpha":
            params[key] = (np.load(value) if value.endswith(".npy") else
                           [float(v) for v in value.split(",")])
        elif key in ("axis", "pieces"):
            params[key] = int(value)
        else:
            params[key] = float(value)
    return params


def _load(path: str) -> np.ndarray:
    # allow_pickle stays off: object arrays are refused, not executed.
    return np.load(path, allow_pickle=False)


def _eval(args: argparse.Namespace) -> int:
    if (args.mode == "backward") != (args.grad is not None):
        raise ValueError(
            "--grad is required with --mode=backward and only then")
    x = _load(args.in_)
    grad = _load(args.grad) if args.grad is not None else None
    with _client(args, chunk_bytes=args.chunk_bytes) as client:
        if args.stream_threshold is not None:
            client.stream_threshold_bytes = args.stream_threshold
        result = client.evaluate(args.fn, x, args.mode, grad,
                                 bfloat16=args.bf16, **_params(args.param))
    output, gradients = result if args.mode == "backward" else (result, {})
    np.save(args.out, output)
    if not args.quiet:
        print(f"{args.out}: shape [{', '.join(map(str, output.shape))}]")
    if gradients and not args.param_grad_out:
        if not args.quiet:
            print("parameter gradients not saved (no --param-grad-out): "
                  + ", ".join(gradients))
        return 0
    for name, gradient in gradients.items():
        # "pg.npy" for a single gradient, "pg.alpha.npy" for several.
        path = args.param_grad_out
        if len(gradients) > 1:
            path = f"{path[:-4] if path.endswith('.npy') else path}.{name}.npy"
        np.save(path, gradient)
        if not args.quiet:
            print(f"{path}: gradient of {name}")
    return 0


def _health(args: argparse.Namespace) -> int:
    with _client(args) as client:
        status = client.health(args.service)
    if not args.quiet:
        print(status)
    return 0 if status == "SERVING" else EXIT_FAILURE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m actserve",
        description="Client of the actserve activation-function service, "
                    "like actserve-client.")
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="COMMAND")

    list_parser = commands.add_parser(
        "list", help="the server's catalog",
        description="Lists the activations the server offers: parameters "
                    "with their defaults, measured accuracy in ULP and the "
                    "formula.")
    list_parser.add_argument("--json", action="store_true",
                             help="print the ListActivations response as "
                                  "JSON, every field")
    list_parser.add_argument("--names", action="store_true",
                             help="print only the names, one per line")
    _add_connection_flags(list_parser, "60s")
    list_parser.set_defaults(run=_list)

    eval_parser = commands.add_parser(
        "eval", help="one .npy file through an activation",
        description="Evaluates an activation on a NumPy .npy array (float16, "
                    "float32, float64, or bfloat16 stored as uint16 with "
                    "--bf16) and writes the result as .npy. Arrays larger "
                    "than one message go over the EvaluateStream RPC "
                    "automatically.")
    eval_parser.add_argument("--fn", required=True, metavar="NAME",
                             help="activation name (see `list`)")
    eval_parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="activation parameter: alpha, beta, min, max, threshold, axis, "
             "pieces, or channel_alpha=0.1,0.2|FILE.npy; repeatable")
    eval_parser.add_argument("--mode", default="forward",
                             choices=("forward", "derivative", "backward"))
    eval_parser.add_argument("--in", dest="in_", required=True,
                             metavar="FILE", help="input x (.npy)")
    eval_parser.add_argument("--grad", metavar="FILE",
                             help="gradient of the output (.npy), backward "
                                  "mode only")
    eval_parser.add_argument("--out", required=True, metavar="FILE",
                             help="where to write the result (.npy)")
    eval_parser.add_argument("--param-grad-out", metavar="FILE",
                             help="where to write the gradient of a "
                                  "learnable parameter (prelu alpha, swish "
                                  "beta) in backward mode")
    eval_parser.add_argument("--bf16", action="store_true",
                             help="uint16 arrays hold bfloat16; the output "
                                  "is written the same way")
    eval_parser.add_argument("--quiet", action="store_true",
                             help="print nothing on success")
    eval_parser.add_argument("--stream-threshold", type=int, metavar="BYTES",
                             help="inputs larger than this go over "
                                  "EvaluateStream (default: just under "
                                  "4 MiB)")
    eval_parser.add_argument("--chunk-bytes", type=int, default=1 << 20,
                             metavar="BYTES",
                             help="bytes per streamed message and per "
                                  "response chunk (default: %(default)s)")
    _add_connection_flags(eval_parser, "60s")
    eval_parser.set_defaults(run=_eval)

    health_parser = commands.add_parser(
        "health", help="the server's grpc.health.v1 status",
        description="Asks the server's grpc.health.v1.Health service for "
                    "its status. Exits 0 only when it answers SERVING; 1 "
                    "otherwise (NOT_SERVING, unknown service, unreachable "
                    "server).")
    health_parser.add_argument("--service", default="", metavar="NAME",
                               help="service to ask about; empty: the "
                                    "server as a whole")
    health_parser.add_argument("--quiet", action="store_true",
                               help="print nothing; only the exit code "
                                    "tells")
    # A health probe that hangs is worse than one that fails.
    _add_connection_flags(health_parser, "5s")
    health_parser.set_defaults(run=_health)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except ActservError as error:
        if not getattr(args, "quiet", False) or args.command != "health":
            print(f"python3 -m actserve {args.command}: {error.code.name}: "
                  f"{error.details}", file=sys.stderr)
        return EXIT_FAILURE
    except (OSError, TypeError, ValueError) as error:
        print(f"python3 -m actserve {args.command}: {error}",
              file=sys.stderr)
        return EXIT_FAILURE
