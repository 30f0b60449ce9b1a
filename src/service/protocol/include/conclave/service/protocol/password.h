// Password hashing with argon2id (RFC 9106), stored as the PHC string format that libargon2
// writes: `$argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt>$<hash>`.
//
// Stateless functions; thread-safe. Each call takes the configured memory and CPU time: call
// them off latency-sensitive threads.
#ifndef CONCLAVE_SERVICE_PROTOCOL_PASSWORD_H_
#define CONCLAVE_SERVICE_PROTOCOL_PASSWORD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace conclave::service {

// argon2id cost parameters. The defaults are OWASP's minimum recommendation for argon2id
// (Password Storage Cheat Sheet: m=19 MiB, t=2, p=1); raise them, never lower them, in
// production. Existing hashes keep the parameters they were made with.
struct PasswordHashOptions {
  // Memory per hash, in KiB. Default: 19456 (19 MiB). At least 8 × parallelism.
  uint32_t memory_kib = 19456;
  // Passes over the memory. Default: 2. At least 1.
  uint32_t iterations = 2;
  // Lanes (and threads libargon2 starts). Default: 1. At least 1.
  uint32_t parallelism = 1;
};

// Hashes `password` (any bytes) with argon2id, a fresh random 16-byte salt and a 32-byte
// output, returning the encoded PHC string. Returns kInvalidArgument if `options` are outside
// libargon2's limits or the password is longer than it takes (2^32 − 1 bytes),
// kResourceExhausted if the memory cannot be allocated, kInternal for other libargon2 errors.
absl::StatusOr<std::string> HashPassword(std::string_view password,
                                         const PasswordHashOptions& options);
// HashPassword with the default PasswordHashOptions.
absl::StatusOr<std::string> HashPassword(std::string_view password);

// Returns whether `password` matches `encoded`, an argon2id PHC string made by HashPassword
// (compared in constant time). Returns false for any error: a malformed or non-argon2id
// `encoded`, an allocation failure. `encoded` must come from conclave's own store: its
// parameters decide how much memory and time the check takes.
bool VerifyPassword(std::string_view password, std::string_view encoded);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_PASSWORD_H_
