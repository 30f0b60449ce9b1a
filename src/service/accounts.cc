#include "conclave/service/accounts.h"

namespace conclave::service {

Accounts::Accounts(Store& store, Stream& stream, core::Server& server)
    : store_(store), stream_(stream), server_(server) {}

}  // namespace conclave::service
