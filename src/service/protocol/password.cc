#include "conclave/service/protocol/password.h"

#include <argon2.h>

#include <cstring>
#include <string>

#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/crypto.h"

namespace conclave::service {
namespace {

constexpr uint32_t kSaltBytes = 16;
constexpr uint32_t kHashBytes = 32;

absl::Status Argon2Error(int code) {
  std::string message = core::StrCat("argon2id: ", argon2_error_message(code));
  switch (code) {
    case ARGON2_MEMORY_ALLOCATION_ERROR:
    case ARGON2_THREAD_FAIL:
      return absl::ResourceExhaustedError(message);
    case ARGON2_PWD_TOO_LONG:
    case ARGON2_TIME_TOO_SMALL:
    case ARGON2_TIME_TOO_LARGE:
    case ARGON2_MEMORY_TOO_LITTLE:
    case ARGON2_MEMORY_TOO_MUCH:
    case ARGON2_LANES_TOO_FEW:
    case ARGON2_LANES_TOO_MANY:
    case ARGON2_THREADS_TOO_FEW:
    case ARGON2_THREADS_TOO_MANY:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

absl::StatusOr<std::string> HashPassword(std::string_view password,
                                         const PasswordHashOptions& options) {
  if (password.size() > ARGON2_MAX_PWD_LENGTH) return Argon2Error(ARGON2_PWD_TOO_LONG);
  std::string salt = RandomBytes(kSaltBytes);
  // argon2_encodedlen counts the terminating NUL.
  std::string encoded(argon2_encodedlen(options.iterations, options.memory_kib, options.parallelism,
                                        kSaltBytes, kHashBytes, Argon2_id),
                      '\0');
  int rc = argon2id_hash_encoded(options.iterations, options.memory_kib, options.parallelism,
                                 password.data(), password.size(), salt.data(), salt.size(),
                                 kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) return Argon2Error(rc);
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

absl::StatusOr<std::string> HashPassword(std::string_view password) {
  return HashPassword(password, PasswordHashOptions{});
}

bool VerifyPassword(std::string_view password, std::string_view encoded) {
  // libargon2 reads `encoded` up to a NUL; one inside would hide the rest.
  if (encoded.find('\0') != std::string_view::npos) return false;
  if (password.size() > ARGON2_MAX_PWD_LENGTH) return false;
  std::string terminated(encoded);
  return argon2id_verify(terminated.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace conclave::service
