// node/artifacts/http_artifacts.h
//
// The serving side of peer-to-peer artifact fetches (docs/apps.md):
//   GET  /v1/internal/artifacts/{digest}   the blob, application/octet-stream
//   HEAD /v1/internal/artifacts/{digest}   its headers: Content-Length is the blob's size
//
// Contract:
//  - `Range: bytes=N-` (or `bytes=N-M`) is answered 206 with `Content-Range: bytes
//    N-LAST/SIZE`; a start at or past the end 416 with `Content-Range: bytes */SIZE`; a
//    range we do not understand (several ranges, suffix ranges) gets the whole blob (200),
//    as HTTP allows. Every answer carries Accept-Ranges: bytes.
//  - A digest that is not 64 lowercase hex is 400; a blob this node does not hold whole is
//    404 (a fetch in progress is not served).
//  - The body is read into memory before it is sent (HttpServer holds bodies whole), so
//    a 100 MB blob costs 100 MB while it goes out.
#pragma once

#include <memory>

#include "node/artifacts/artifact_store.h"
#include "node/http_server.h"

namespace shoal::node {

void add_artifact_routes(HttpRouter& router, ArtifactStore& store);

// One answer, for tests that wrap the route (to record what was asked).
void serve_artifact(const HttpRequest& req, HttpResponder& responder, ArtifactStore& store);

}  // namespace shoal::node
