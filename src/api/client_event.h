// The event format clients see (Client-Server API "Room Event Format": ClientEvent, and
// ClientEventWithoutRoomID inside /sync), shaped from service's StoredEvent (the PDU with its
// `unsigned`). Private to the api module; stateless, thread-safe.
#ifndef CONCLAVE_API_CLIENT_EVENT_H_
#define CONCLAVE_API_CLIENT_EVENT_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <vector>

#include "conclave/service/accounts/accounts.h"
#include "conclave/service/rooms/room_types.h"

namespace conclave::api {

// `event` as clients see it: content, event_id, origin_server_ts, sender, state_key, type,
// redacts (and room_id when `with_room_id`), `unsigned` with `age` (ms since it was sent), the
// redaction in `redacted_because` shaped the same way, and `transaction_id` only when `viewer`
// (may be null: no one) sent it from the same device, and the bundled aggregations
// (`m.relations`, Rooms::Bundle) with the events in them shaped the same way. Private fields of
// `unsigned` (io.conclave.*) are left out.
boost::json::object ClientEvent(const service::StoredEvent& event, const service::Session* viewer,
                                bool with_room_id);
// Each of `events`, in order.
boost::json::array ClientEvents(const std::vector<service::StoredEvent>& events,
                                const service::Session* viewer, bool with_room_id);

}  // namespace conclave::api

#endif  // CONCLAVE_API_CLIENT_EVENT_H_
