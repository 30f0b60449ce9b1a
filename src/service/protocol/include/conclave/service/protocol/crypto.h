// Hashing, base64 and randomness for the Matrix protocol: SHA-256, the spec's unpadded base64
// (standard and URL-safe), hex, and random bytes and tokens from OpenSSL's CSPRNG.
//
// Appendices, "Unpadded Base64"; RFC 4648 §4 and §5. Stateless functions; thread-safe (OpenSSL
// 3's default RAND_bytes is).
#ifndef CONCLAVE_SERVICE_PROTOCOL_CRYPTO_H_
#define CONCLAVE_SERVICE_PROTOCOL_CRYPTO_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace conclave::service {

// Returns the SHA-256 digest of `bytes`: 32 raw bytes.
std::string Sha256(std::string_view bytes);

// Returns the SHA-1 digest of `bytes`: 20 raw bytes. Only for room version 1's state resolution,
// which orders events by sha1(event_id); never for anything that needs collision resistance.
std::string Sha1(std::string_view bytes);

// Encodes `bytes` as base64 with the standard alphabet (`+`, `/`) and no `=` padding.
std::string UnpaddedBase64(std::string_view bytes);

// Encodes `bytes` as base64 with the URL-safe alphabet (`-`, `_`, RFC 4648 §5) and no padding,
// as room versions 4+ event ids are.
std::string UnpaddedBase64Url(std::string_view bytes);

// Decodes standard-alphabet base64, with or without `=` padding (the spec says decoders SHOULD
// accept both). Unused low bits of the last character are ignored, as most Matrix
// implementations do. Returns kInvalidArgument for a character outside the alphabet, a length
// that no encoding has (4n+1), or wrong padding.
absl::StatusOr<std::string> DecodeUnpaddedBase64(std::string_view encoded);

// Returns `n` bytes from OpenSSL's CSPRNG. Aborts the process with a message on stderr if the
// generator fails: nothing that needs secrets can safely go on without it.
std::string RandomBytes(size_t n);

// Returns `n` characters drawn uniformly and independently from `alphabet` (rejection sampling
// over RandomBytes, so no modulo bias). `alphabet` must hold 1 to 256 characters (bytes), else
// the process aborts; a character listed twice is drawn twice as often.
std::string RandomString(size_t n, std::string_view alphabet);

// Returns RandomString(`n`, [A-Za-z0-9]): about 5.95 bits of entropy per character.
std::string RandomAlnum(size_t n);

// Encodes `bytes` as lowercase hex, two characters per byte.
std::string HexEncode(std::string_view bytes);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_CRYPTO_H_
