// The api module: Matrix Client-Server HTTP handlers, registered into core's Router at load.
//
// It has no public functions of its own; this header names its routes for documentation.
#ifndef CONCLAVE_API_API_H_
#define CONCLAVE_API_API_H_

namespace conclave::api {

// Client-Server API "Server discovery" and "API standards" (spec v1.x) plus conclave's own.
inline constexpr const char* kVersionsPath = "/_matrix/client/versions";
inline constexpr const char* kWellKnownPath = "/.well-known/matrix/client";
inline constexpr const char* kServerVersionPath = "/_conclave/server_version";

}  // namespace conclave::api

#endif  // CONCLAVE_API_API_H_
