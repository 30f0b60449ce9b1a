// How a failed absl::Status becomes an HTTP answer of the Client-Server API: the shared table of
// conclave/matrix_http/error_response.h (api and media use the same one), named in the api's
// namespace for its handlers.
//
// Private to the api module. Stateless, thread-safe.
#ifndef CONCLAVE_API_MATRIX_ERROR_H_
#define CONCLAVE_API_MATRIX_ERROR_H_

#include "conclave/matrix_http/error_response.h"

namespace conclave::api {

using matrix_http::ErrorResponse;
using matrix_http::HttpStatusOf;

}  // namespace conclave::api

#endif  // CONCLAVE_API_MATRIX_ERROR_H_
