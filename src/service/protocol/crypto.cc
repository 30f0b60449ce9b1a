#include "conclave/service/protocol/crypto.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace conclave::service {
namespace {

constexpr char kStandardAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

[[noreturn]] void DieWithOpenSslError(const char* what) {
  std::fprintf(stderr, "conclave: fatal: %s failed (OpenSSL error %lu)\n", what, ERR_get_error());
  std::abort();
}

// The `md` digest of `bytes` (raw bytes); `name` for the fatal message.
std::string Digest(std::string_view bytes, const EVP_MD* md, const char* name) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest;
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, md, nullptr) != 1) {
    std::string what = std::string("EVP_Digest(") + name + ")";
    DieWithOpenSslError(what.c_str());
  }
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

std::string EncodeBase64(std::string_view bytes, const char* alphabet) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t group = static_cast<uint8_t>(bytes[i]) << 16 |
                     static_cast<uint8_t>(bytes[i + 1]) << 8 | static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(alphabet[group >> 18]);
    out.push_back(alphabet[(group >> 12) & 0x3f]);
    out.push_back(alphabet[(group >> 6) & 0x3f]);
    out.push_back(alphabet[group & 0x3f]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t group = static_cast<uint8_t>(bytes[i]) << 16;
    out.push_back(alphabet[group >> 18]);
    out.push_back(alphabet[(group >> 12) & 0x3f]);
  } else if (rest == 2) {
    uint32_t group = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(alphabet[group >> 18]);
    out.push_back(alphabet[(group >> 12) & 0x3f]);
    out.push_back(alphabet[(group >> 6) & 0x3f]);
  }
  return out;
}

// The value of base64 character `c` in the standard alphabet, or -1.
int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string Sha256(std::string_view bytes) { return Digest(bytes, EVP_sha256(), "SHA-256"); }

std::string Sha1(std::string_view bytes) { return Digest(bytes, EVP_sha1(), "SHA-1"); }

std::string UnpaddedBase64(std::string_view bytes) {
  return EncodeBase64(bytes, kStandardAlphabet);
}

std::string UnpaddedBase64Url(std::string_view bytes) { return EncodeBase64(bytes, kUrlAlphabet); }

absl::StatusOr<std::string> DecodeUnpaddedBase64(std::string_view encoded) {
  if (encoded.size() % 4 == 0) {
    // Padded input: at most two '=' and only at the end.
    size_t padding = 0;
    while (padding < 2 && padding < encoded.size() &&
           encoded[encoded.size() - 1 - padding] == '=') {
      ++padding;
    }
    encoded.remove_suffix(padding);
  }
  if (encoded.size() % 4 == 1) {
    return absl::InvalidArgumentError("base64: length is not that of any encoding");
  }
  std::string out;
  out.reserve(encoded.size() * 3 / 4);
  uint32_t accumulator = 0;
  int bits = 0;
  for (char c : encoded) {
    int value = Base64Value(c);
    if (value < 0) {
      return absl::InvalidArgumentError(c == '=' ? "base64: misplaced padding"
                                                 : "base64: character outside the alphabet");
    }
    accumulator = (accumulator << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xff));
    }
  }
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    int chunk = static_cast<int>(std::min<size_t>(n - done, INT_MAX));
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + done), chunk) != 1) {
      DieWithOpenSslError("RAND_bytes");
    }
    done += static_cast<size_t>(chunk);
  }
  return out;
}

std::string RandomString(size_t n, std::string_view alphabet) {
  if (alphabet.empty() || alphabet.size() > 256) {
    std::fprintf(stderr, "conclave: fatal: RandomString alphabet of %zu characters\n",
                 alphabet.size());
    std::abort();
  }
  // A byte at or above the largest multiple of the alphabet size would favour the first
  // characters; drawing again instead keeps every character equally likely.
  const unsigned limit = 256 - 256 % alphabet.size();
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    // A little more than needed, so one batch usually suffices.
    std::string batch = RandomBytes((n - out.size()) * 5 / 4 + 8);
    for (char c : batch) {
      auto byte = static_cast<unsigned char>(c);
      if (byte >= limit) continue;
      out.push_back(alphabet[byte % alphabet.size()]);
      if (out.size() == n) break;
    }
  }
  return out;
}

std::string RandomAlnum(size_t n) {
  return RandomString(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto byte = static_cast<unsigned char>(c);
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
  }
  return out;
}

}  // namespace conclave::service
