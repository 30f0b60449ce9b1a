// `debug`: small tools for operators and developers — ping, echo, raw events and room state,
// the log level, the server's clock.
#include <boost/json/array.hpp>

#include "absl/strings/str_join.h"
#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/rooms/rooms.h"
#include "format.h"
#include "tree.h"

namespace conclave::admin {
namespace {

absl::StatusOr<Reply> Ping(Context&) { return Reply("pong"); }

absl::StatusOr<Reply> Echo(Context& context, const std::vector<std::string>& words) {
  Reply reply(absl::StrJoin(words, " "));
  if (!context.request().body.empty()) reply.Pre(context.request().body);
  return reply;
}

absl::StatusOr<Reply> GetEvent(Context& context, const std::string& event_id) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(service::StoredEvent event, hs->rooms().EventById(event_id));
  Reply reply(core::StrCat(event_id, " at stream position ", event.position, ":"));
  reply.Pre(PrettyJson(event.pdu));
  return reply;
}

absl::StatusOr<Reply> GetRoomState(Context& context, const std::string& room) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, context.ResolveRoom(room));
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<service::StoredEvent> state,
                            hs->rooms().CurrentState(room_id));
  boost::json::array events;
  for (service::StoredEvent& event : state) events.push_back(std::move(event.pdu));
  Reply reply(
      core::StrCat("current state of ", room_id, ": ", Plural(events.size(), "event", "events")));
  reply.Pre(PrettyJson(events));
  return reply;
}

absl::StatusOr<Reply> ChangeLogLevel(Context& context, const std::string& level) {
  const std::string before(core::LogLevelName());
  CONCLAVE_RETURN_IF_ERROR(core::SetLogLevel(level));
  return Reply(core::StrCat("log level ", before, " → ", level, ", ", context.By(),
                            "; until the next start, which applies the config's log_level"));
}

absl::StatusOr<Reply> Time(Context&) {
  absl::Time now = absl::Now();
  return Reply(core::StrCat(absl::FormatTime("%Y-%m-%d %H:%M:%E3S UTC", now, absl::UTCTimeZone()),
                            " (", absl::ToUnixMillis(now), " ms since the Unix epoch)"));
}

}  // namespace

void AddDebugCommands(CommandTree& tree) {
  Group group = tree.AddGroup("debug", "Tools for operators and developers");
  tree.AddCommand(group, "ping", "Answer pong: the command path works", Ping);
  auto* words = tree.Make<std::vector<std::string>>();
  Command echo = tree.AddCommand(group, "echo", "Answer TEXT (and the command's body) back",
                                 [words](Context& context) { return Echo(context, *words); });
  echo.Arg("TEXT", words, "Words to echo");
  auto* event_id = tree.Make<std::string>();
  Command get_event = tree.AddCommand(
      group, "get-event", "The stored event EVENT_ID as JSON (the PDU and its `unsigned`)",
      [event_id](Context& context) { return GetEvent(context, *event_id); });
  get_event.Arg("EVENT_ID", event_id, "`$…`").Required();
  auto* room = tree.Make<std::string>();
  Command get_state =
      tree.AddCommand(group, "get-room-state", "The current state events of ROOM as JSON",
                      [room](Context& context) { return GetRoomState(context, *room); });
  get_state.Arg("ROOM", room, "Room id or alias").Required();
  auto* level = tree.Make<std::string>();
  Command log_level =
      tree.AddCommand(group, "change-log-level", "Set the log level until the next start",
                      [level](Context& context) { return ChangeLogLevel(context, *level); });
  log_level.Arg("LEVEL", level, "trace, debug, info, warn, error, critical or off")
      .Required()
      .OneOf({"trace", "debug", "info", "warn", "error", "critical", "off"});
  tree.AddCommand(group, "time", "The server's clock, in UTC and Unix milliseconds", Time);
}

}  // namespace conclave::admin
