#include "admin_room_impl.h"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/time/time.h"
#include "conclave/core/command_slot.h"
#include "conclave/core/exceptions.h"
#include "conclave/core/log.h"
#include "conclave/core/percent.h"
#include "conclave/core/server.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/admin_room/html.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/rate_limit/rate_limiter.h"
#include "conclave/service/rooms/rooms.h"

namespace conclave::service {
namespace {

// How often the worker tries again while the admin module is not loaded (being reloaded).
constexpr absl::Duration kRetryWhileUnloaded = absl::Milliseconds(50);
// Refusal notices to a non-admin: one per user per minute, no burst.
constexpr RateLimit kRefusalLimit{1.0 / 60, 1};
// Length of the bot's random password (nobody knows it; the bot never logs in).
constexpr size_t kBotPasswordLength = 32;
constexpr char kRoomName[] = "Admin Room";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view Trim(std::string_view s) {
  s = TrimLeft(s);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(text[i])) !=
        absl::ascii_tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

// The text of the link `formatted_body` opens with when it points at `user_id` (a mention
// "pill": <a href="https://matrix.to/#/@user:server">name</a>), else nullopt.
std::optional<std::string_view> PillText(std::string_view formatted_body,
                                         std::string_view user_id) {
  std::string_view html = TrimLeft(formatted_body);
  if (!StartsWithIgnoreCase(html, "<a ")) return std::nullopt;
  size_t tag_end = html.find('>');
  if (tag_end == std::string_view::npos) return std::nullopt;
  std::string_view tag = html.substr(0, tag_end);
  size_t href = tag.find("href=");
  if (href == std::string_view::npos || href + 5 >= tag.size()) return std::nullopt;
  const char quote = tag[href + 5];
  if (quote != '"' && quote != '\'') return std::nullopt;
  size_t value_end = tag.find(quote, href + 6);
  if (value_end == std::string_view::npos) return std::nullopt;
  std::string_view url = tag.substr(href + 6, value_end - href - 6);
  constexpr std::string_view kMatrixTo = "https://matrix.to/#/";
  if (url.substr(0, kMatrixTo.size()) != kMatrixTo) return std::nullopt;
  if (core::PercentDecode(url.substr(kMatrixTo.size())) != user_id) return std::nullopt;
  size_t close = html.find("</a>", tag_end);
  if (close == std::string_view::npos) return std::nullopt;
  return html.substr(tag_end + 1, close - tag_end - 1);
}

// After a prefix: the rest of the message, when the prefix ends there (end of text, white space
// or a colon, which is skipped); nullopt when the prefix is only the start of a longer word.
std::optional<std::string_view> AfterPrefix(std::string_view text, size_t prefix_size,
                                            bool colon_required) {
  std::string_view rest = text.substr(prefix_size);
  if (!rest.empty() && rest.front() == ':') return rest.substr(1);
  if (colon_required) return std::nullopt;
  if (rest.empty() || IsSpace(rest.front())) return rest;
  return std::nullopt;
}

bool IsFence(std::string_view line, std::string_view* fence) {
  for (std::string_view f : {std::string_view("```"), std::string_view("~~~")}) {
    if (line.substr(0, 3) == f) {
      *fence = f;
      return true;
    }
  }
  return false;
}

// The first fenced code block (``` or ~~~, CommonMark) in `text`, without the fences; an
// unclosed block runs to the end. Empty when there is none.
std::string FencedBlock(std::string_view text) {
  std::string out;
  std::string_view fence;
  bool inside = false;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view this_fence;
    if (!inside) {
      if (IsFence(TrimLeft(line), &fence)) inside = true;
      continue;
    }
    if (IsFence(TrimLeft(line), &this_fence) && this_fence == fence) break;
    core::StrAppend(&out, line, "\n");
  }
  if (!out.empty()) out.pop_back();
  return out;
}

// Bytes `s` takes as a JSON string, without the quotes (Boost.JSON escapes '"', '\' and control
// characters only).
size_t JsonSize(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') {
      n += 2;
    } else if (u < 0x20) {
      n += 6;
    } else {
      n += 1;
    }
  }
  return n;
}

// The first two words of a command line ("users create-user"), for logs: the arguments may be
// secrets (passwords).
std::string CommandName(std::string_view line) {
  std::string_view rest = Trim(line);
  size_t end = 0;
  for (int word = 0; word < 2 && end < rest.size(); ++word) {
    while (end < rest.size() && IsSpace(rest[end])) ++end;
    while (end < rest.size() && !IsSpace(rest[end])) ++end;
  }
  return std::string(rest.substr(0, end));
}

std::string Topic(std::string_view bot_user_id) {
  return core::StrCat("Administer this server: send \"!admin help\" for the commands (or mention ",
                      bot_user_id,
                      "). Only server admins can run them; answers come as notices in reply.");
}

}  // namespace

std::optional<ParsedAdminCommand> ParseAdminCommand(std::string_view body,
                                                    std::string_view formatted_body,
                                                    std::string_view bot_user_id,
                                                    std::string_view bot_display_name) {
  const std::string_view text = TrimLeft(body);
  constexpr std::string_view kPrefix = kAdminCommandPrefix;
  std::optional<std::string_view> rest;
  if (text.substr(0, kPrefix.size()) == kPrefix) {
    rest = AfterPrefix(text, kPrefix.size(), /*colon_required=*/false);
    // "!admin:" is not a command; "!admin server uptime" is.
    if (rest && text.size() > kPrefix.size() && text[kPrefix.size()] == ':') rest.reset();
  } else if (!bot_user_id.empty() && text.substr(0, bot_user_id.size()) == bot_user_id) {
    rest = AfterPrefix(text, bot_user_id.size(), /*colon_required=*/false);
  } else if (auto pill = PillText(formatted_body, bot_user_id);
             pill && !pill->empty() && text.substr(0, pill->size()) == *pill) {
    rest = AfterPrefix(text, pill->size(), /*colon_required=*/true);
  } else if (!bot_display_name.empty() && StartsWithIgnoreCase(text, bot_display_name)) {
    rest = AfterPrefix(text, bot_display_name.size(), /*colon_required=*/true);
  }
  if (!rest) return std::nullopt;
  size_t nl = rest->find('\n');
  ParsedAdminCommand command;
  command.command_line = std::string(Trim(rest->substr(0, nl)));
  if (nl != std::string_view::npos) command.body = FencedBlock(rest->substr(nl + 1));
  return command;
}

void TruncateNotice(std::string& plain, std::string& html, size_t limit) {
  if (JsonSize(plain) + JsonSize(html) <= limit) return;
  const size_t total = plain.size();
  size_t keep = std::min(plain.size(), limit / 2);
  for (;;) {
    size_t cut = keep;
    // Never split a UTF-8 sequence.
    while (cut > 0 && cut < plain.size() &&
           (static_cast<unsigned char>(plain[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    // Prefer to end with a whole line when one ends in the last quarter of what is kept.
    if (cut > 0) {
      size_t nl = plain.rfind('\n', cut - 1);
      if (nl != std::string::npos && nl + 1 >= cut - cut / 4) cut = nl + 1;
    }
    std::string_view kept(plain.data(), cut);
    std::string note =
        core::StrCat("[output truncated: ", total - cut, " of ", total, " bytes cut]");
    std::string new_plain =
        core::StrCat(kept, kept.empty() || kept.back() == '\n' ? "" : "\n", note);
    std::string new_html =
        core::StrCat("<pre><code>", EscapeHtml(kept), "</code></pre>\n<p><em>", note, "</em></p>");
    size_t size = JsonSize(new_plain) + JsonSize(new_html);
    if (size <= limit || cut == 0) {
      plain = std::move(new_plain);
      html = std::move(new_html);
      return;
    }
    // Each byte kept costs at least two (once in each body): drop half the excess, and more on
    // the next round if that was not enough.
    size_t drop = (size - limit) / 2 + 1;
    keep = cut > drop ? cut - drop : 0;
  }
}

AdminRoomImpl::AdminRoomImpl(Deps deps)
    : deps_(std::move(deps)), bot_user_id_(BotUserId(deps_.server_name)) {
  // Command intake, outside the room's lock (a refusal notice is sent into the same room).
  intake_ = deps_.rooms.observers().Add([this](const SentEvent& event) {
    if (event.type == "m.room.message") {
      OnMessage(event.room_id, event.sender, event.event_id, event.content);
    }
  });
}

AdminRoomImpl::~AdminRoomImpl() { Stop(); }

absl::StatusOr<std::string> AdminRoomImpl::RoomMembership(std::string_view user_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto rooms, deps_.rooms.UserRooms(user_id));
  for (const UserRoom& room : rooms) {
    if (room.room_id == room_id_) return room.membership;
  }
  return std::string();
}

absl::Status AdminRoomImpl::SetUp() {
  Accounts& accounts = deps_.accounts;
  if (!accounts.UserExists(bot_user_id_)) {
    auto created =
        accounts.CreateUser(kAdminBotLocalpart, RandomAlnum(kBotPasswordLength), /*admin=*/true);
    if (!created.ok()) {
      return absl::Status(created.status().code(),
                          core::StrCat("admin room: creating the bot ", bot_user_id_, ": ",
                                       created.status().message()));
    }
    CONCLAVE_LOG(kInfo, "admin", "created the admin bot {}", bot_user_id_);
  }
  CONCLAVE_ASSIGN_OR_RETURN(Profile profile, accounts.GetProfile(bot_user_id_));
  if (profile.displayname != kAdminBotDisplayName) {
    CONCLAVE_RETURN_IF_ERROR(
        accounts.SetDisplayName(bot_user_id_, std::string(kAdminBotDisplayName)));
    CONCLAVE_RETURN_IF_ERROR(deps_.rooms.ReflectProfile(bot_user_id_));
  }

  const Session bot{bot_user_id_, ""};
  const std::string alias = AdminRoomAlias(deps_.server_name);
  auto resolved = deps_.rooms.ResolveAlias(alias);
  if (resolved.ok()) {
    room_id_ = *resolved;
  } else if (resolved.status().code() == absl::StatusCode::kNotFound) {
    const CreateRoomRequest request{.preset = CreateRoomRequest::Preset::kPrivateChat,
                                    .name = kRoomName,
                                    .topic = Topic(bot_user_id_),
                                    .room_alias_name = kAdminRoomAliasLocalpart};
    // The preset's power levels: the bot, as creator, at 100 (infinite, unlisted, if
    // default_room_version is 12); members at 0 (they may invite, as
    // in any private room; only admins' commands run, whoever is in the room).
    auto created = deps_.rooms.CreateRoom(bot, request);
    if (!created.ok()) {
      return absl::Status(created.status().code(), core::StrCat("admin room: creating ", alias,
                                                                ": ", created.status().message()));
    }
    room_id_ = created->room_id;
    CONCLAVE_LOG(kInfo, "admin", "created the admin room {} ({})", alias, room_id_);
  } else {
    return resolved.status();
  }
  CONCLAVE_ASSIGN_OR_RETURN(std::string bot_membership, RoomMembership(bot_user_id_));
  if (bot_membership != "join") {
    // Only a database from before the admin room can have someone else's #admins. Commands stay
    // off rather than the server refusing to start.
    CONCLAVE_LOG(kError, "admin",
                 "{} is {} but {} is not joined to it: the admin room is off (delete the alias "
                 "and restart to get a new one)",
                 alias, room_id_, bot_user_id_);
    room_id_.clear();
    return absl::OkStatus();
  }

  CONCLAVE_ASSIGN_OR_RETURN(auto admins, accounts.ListAdmins());
  for (const std::string& admin : admins) {
    if (admin == bot_user_id_) continue;
    if (absl::Status s = OnAdminGranted(admin); !s.ok()) {
      CONCLAVE_LOG(kWarn, "admin", "could not invite admin {} to {}: {}", admin, alias,
                   s.message());
    }
  }
  return absl::OkStatus();
}

absl::Status AdminRoomImpl::Notice(std::string_view plain, std::string_view html,
                                   std::optional<std::string> in_reply_to) {
  if (room_id_.empty()) return absl::FailedPreconditionError("there is no admin room");
  std::string body(plain);
  std::string formatted(html);
  TruncateNotice(body, formatted, kMaxNoticeBytes);
  boost::json::object content{{"msgtype", "m.notice"}, {"body", body}};
  if (!formatted.empty()) {
    content["format"] = "org.matrix.custom.html";
    content["formatted_body"] = formatted;
  }
  if (in_reply_to) {
    // Client-Server API "Rich replies".
    content["m.relates_to"] =
        boost::json::object{{"m.in_reply_to", boost::json::object{{"event_id", *in_reply_to}}}};
  }
  return deps_.rooms.Send(Session{bot_user_id_, ""}, room_id_, "m.room.message", "", content)
      .status();
}

absl::Status AdminRoomImpl::OnAdminGranted(std::string_view user_id) {
  if (room_id_.empty()) return absl::FailedPreconditionError("there is no admin room");
  CONCLAVE_ASSIGN_OR_RETURN(std::string membership, RoomMembership(user_id));
  if (membership == "join" || membership == "invite") return absl::OkStatus();
  CONCLAVE_RETURN_IF_ERROR(deps_.rooms.Invite(Session{bot_user_id_, ""}, room_id_, user_id,
                                              std::string("server admin")));
  CONCLAVE_LOG(kInfo, "admin", "invited admin {} to the admin room", user_id);
  return absl::OkStatus();
}

absl::Status AdminRoomImpl::JoinFirstAdmin(std::string_view user_id) {
  if (room_id_.empty()) return absl::FailedPreconditionError("there is no admin room");
  CONCLAVE_ASSIGN_OR_RETURN(std::string membership, RoomMembership(user_id));
  if (membership == "join") return absl::OkStatus();
  if (membership != "invite") {
    CONCLAVE_RETURN_IF_ERROR(deps_.rooms.Invite(Session{bot_user_id_, ""}, room_id_, user_id,
                                                std::string("first user: server admin")));
  }
  CONCLAVE_RETURN_IF_ERROR(
      deps_.rooms.Join(Session{std::string(user_id), ""}, room_id_, std::nullopt).status());
  CONCLAVE_LOG(kInfo, "admin", "joined the first admin {} to the admin room", user_id);
  return absl::OkStatus();
}

void AdminRoomImpl::OnMessage(std::string_view room_id, std::string_view sender,
                              std::string_view event_id, const boost::json::object& content) {
  if (room_id_.empty() || room_id != room_id_ || sender == bot_user_id_) return;
  // Notices are never commands (bots must not answer them, Client-Server API "m.notice"), nor
  // are emotes or media.
  const auto* msgtype = content.if_contains("msgtype");
  if (msgtype == nullptr || !msgtype->is_string() || msgtype->get_string() != "m.text") return;
  const auto* body_value = content.if_contains("body");
  if (body_value == nullptr || !body_value->is_string()) return;
  std::string_view body = body_value->get_string();
  std::string_view formatted;
  if (const auto* f = content.if_contains("formatted_body"); f != nullptr && f->is_string()) {
    formatted = f->get_string();
  }
  if (const auto* relates = content.if_contains("m.relates_to");
      relates != nullptr && relates->is_object() &&
      relates->get_object().contains("m.in_reply_to")) {
    // A command typed as a reply: older clients put a fallback before it (Client-Server API
    // "Rich replies"): quoted "> " lines, then an empty line, in the body, and an <mx-reply>
    // element in the HTML. Both go.
    while (body.substr(0, 2) == "> " || body == ">" || body.substr(0, 2) == ">\n") {
      size_t nl = body.find('\n');
      body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    }
    if (size_t end = formatted.find("</mx-reply>"); end != std::string_view::npos) {
      formatted = formatted.substr(end + 11);
    }
  }
  auto command = ParseAdminCommand(body, formatted, bot_user_id_, kAdminBotDisplayName);
  if (!command) return;
  if (!deps_.accounts.IsAdmin(sender)) {
    CONCLAVE_LOG(kWarn, "admin", "refused an admin command from {}, who is not an admin", sender);
    if (deps_.limiter.Take(core::StrCat("admin_refusal/", sender), kRefusalLimit).ok()) {
      absl::Status s =
          Notice(core::StrCat(sender, ": only server admins can run admin commands."),
                 core::StrCat(EscapeHtml(sender), ": only server admins can run admin commands."),
                 std::string(event_id));
      if (!s.ok()) CONCLAVE_LOG(kWarn, "admin", "refusal notice: {}", s.message());
    }
    return;
  }
  Enqueue(QueuedCommand{std::move(command->command_line), std::move(command->body),
                        std::string(sender), std::string(event_id)});
}

void AdminRoomImpl::Enqueue(QueuedCommand command) {
  size_t pending;
  std::string name = CommandName(command.command_line);
  std::string invoker = command.invoker;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(command));
    pending = queue_.size();
  }
  cv_.notify_all();
  CONCLAVE_LOG(kInfo, "admin", "queued admin command '{}' from {} ({} pending)", name, invoker,
               pending);
}

absl::Status AdminRoomImpl::Start() {
  if (worker_.joinable()) return absl::OkStatus();
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  try {
    worker_ = std::thread([this] { RunWorker(); });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        core::StrCat("cannot start the admin command thread: ", e.what()));
  }
  return absl::OkStatus();
}

uint64_t AdminRoomImpl::retries_without_processor() const {
  std::lock_guard lock(mu_);
  return retries_without_processor_;
}

bool AdminRoomImpl::stop_requested() const {
  std::lock_guard lock(mu_);
  return stop_;
}

void AdminRoomImpl::Stop() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void AdminRoomImpl::RunWorker() {
  std::unique_lock lock(mu_);
  bool waiting_logged = false;
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    // A copy: the command stays at the front of the queue while it runs, so that a Save()
    // after Stop() could never miss it; it is removed only once its reply is posted. Stop()
    // waits for that, so a command runs exactly once: to the end on the code it started on, or
    // (when the admin module is away) not at all here and later on the next code.
    QueuedCommand command = queue_.front();
    lock.unlock();
    const core::CommandRequest request{command.command_line, command.body, command.invoker};
    absl::StatusOr<core::CommandOutput> output = deps_.server.commands().Execute(request);
    if (core::IsNoProcessor(output.status())) {
      // The admin module is being reloaded (or not loaded): keep the command and try again
      // soon; it runs on the new code. Stop() interrupts the wait.
      lock.lock();
      ++retries_without_processor_;
      if (!waiting_logged) {
        CONCLAVE_LOG(kInfo, "admin", "admin command '{}' waits for the admin module",
                     CommandName(command.command_line));
        waiting_logged = true;
      }
      cv_.wait_for(lock, absl::ToChronoMilliseconds(kRetryWhileUnloaded), [this] { return stop_; });
      continue;
    }
    waiting_logged = false;
    // No exception leaves this thread (CommandSlot turns a command's into kInternal; this is for
    // the reply): the command is logged as failed and dropped, and the worker carries on.
    try {
      if (output.ok()) {
        CONCLAVE_LOG(kInfo, "admin", "admin command '{}' from {} done",
                     CommandName(command.command_line), command.invoker);
        Reply(command, absl::OkStatus(), std::move(output->plain), std::move(output->html));
      } else {
        // The code only: the message may quote the arguments, which may be secrets.
        CONCLAVE_LOG(kInfo, "admin", "admin command '{}' from {} failed ({})",
                     CommandName(command.command_line), command.invoker,
                     absl::StatusCodeToString(output.status().code()));
        Reply(command, output.status(), "", "");
      }
    } catch (...) {
      CONCLAVE_LOG(kError, "admin", "answering admin command '{}' threw: {}",
                   CommandName(command.command_line), core::CurrentExceptionMessage());
    }
    lock.lock();
    queue_.pop_front();
  }
}

void AdminRoomImpl::Reply(const QueuedCommand& command, const absl::Status& status,
                          std::string plain, std::string html) {
  if (!status.ok()) {
    std::string_view message(status.message().data(), status.message().size());
    plain = core::StrCat("Error: ", message);
    html = core::StrCat("<p><strong>Error:</strong></p>\n<pre><code>", EscapeHtml(message),
                        "</code></pre>");
  } else if (plain.empty() && html.empty()) {
    plain = "done (no output)";
  }
  absl::Status posted = Notice(plain, html, command.event_id);
  if (!posted.ok()) {
    CONCLAVE_LOG(kError, "admin", "could not post the answer to admin command '{}': {}",
                 CommandName(command.command_line), posted.message());
    // Tell the admin something, in a form that always fits.
    Notice(core::StrCat("The command ran, but its answer could not be posted: ", posted.message()),
           "", command.event_id)
        .IgnoreError();
  }
}

std::string AdminRoomImpl::SaveQueue() const {
  boost::json::array out;
  std::lock_guard lock(mu_);
  for (const QueuedCommand& c : queue_) {
    out.push_back(boost::json::object{{"command_line", c.command_line},
                                      {"body", c.body},
                                      {"invoker", c.invoker},
                                      {"event_id", c.event_id}});
  }
  return boost::json::serialize(out);
}

void AdminRoomImpl::RestoreQueue(std::string_view saved) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(saved, ec);
  if (ec || !value.is_array()) return;
  auto field = [](const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(boost::json::string_view(key.data(), key.size()));
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  std::lock_guard lock(mu_);
  for (const auto& entry : value.get_array()) {
    const auto* o = entry.if_object();
    if (o == nullptr || !o->contains("command_line")) continue;
    queue_.push_back(QueuedCommand{field(*o, "command_line"), field(*o, "body"),
                                   field(*o, "invoker"), field(*o, "event_id")});
  }
}

size_t AdminRoomImpl::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace conclave::service
