"""A minimal OTLP/HTTP trace receiver for ferry's e2e tests.

Listens on 127.0.0.1 (port chosen by the OS), prints `PORT <n>` once ready, decodes every
`POST /v1/traces` body with the official OpenTelemetry protobuf definitions
(`opentelemetry-proto`) and prints one JSON line per span: name, kind, resource and span
attributes, status. Exits 3 when the package is missing, so the test can say why.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

try:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )
except ImportError as e:  # pragma: no cover - reported to the test
    print(f"missing package: {e}", file=sys.stderr, flush=True)
    sys.exit(3)


def value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def attributes(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/traces":
            self.send_response(404)
            self.end_headers()
            return
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        for rs in req.resource_spans:
            resource = attributes(rs.resource.attributes)
            for ss in rs.scope_spans:
                for span in ss.spans:
                    print(
                        json.dumps(
                            {
                                "content_type": self.headers.get("Content-Type"),
                                "name": span.name,
                                "kind": span.kind,
                                "resource": resource,
                                "attributes": attributes(span.attributes),
                                "status_code": span.status.code,
                                "duration_ns": span.end_time_unix_nano - span.start_time_unix_nano,
                            }
                        ),
                        flush=True,
                    )
        out = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()
