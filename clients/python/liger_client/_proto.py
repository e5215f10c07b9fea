"""The liger.v1 messages and stubs, generated from proto/liger/v1/liger.proto at build time.

The build (CMake) runs protoc with the gRPC Python plugin into a `liger_client_proto` package next
to this one (build/clients/python); see clients/python/README.md.
"""

try:
    from liger_client_proto.liger.v1 import liger_pb2 as pb
    from liger_client_proto.liger.v1 import liger_pb2_grpc as pb_grpc
except ImportError as error:  # pragma: no cover - a packaging problem, reported plainly
    raise ImportError(
        "liger_client needs its generated stubs (liger_client_proto); build the project and put "
        "build/clients/python on PYTHONPATH") from error

__all__ = ["pb", "pb_grpc"]
