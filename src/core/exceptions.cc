#include "conclave/core/exceptions.h"

#include <exception>

namespace conclave::core {

std::string CurrentExceptionMessage() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

}  // namespace conclave::core
