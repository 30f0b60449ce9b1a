// Reply: what an admin command answers, built from blocks (lines of text, preformatted text,
// tables) and rendered twice — as plain text (the notice's `body`, and stdout for `--execute`)
// and as HTML (its `formatted_body`). Private to the admin module.
#ifndef CONCLAVE_ADMIN_REPLY_H_
#define CONCLAVE_ADMIN_REPLY_H_

#include <string>
#include <string_view>
#include <vector>

#include "conclave/core/command_slot.h"
#include "conclave/service/admin_room/html.h"

namespace conclave::admin {

using service::EscapeHtml;

// A value type; thread-compatible.
class Reply {
 public:
  Reply() = default;
  // A reply of one line of text.
  explicit Reply(std::string_view line) { Text(line); }

  // Adds a line of text: as is in plain text, escaped in HTML (consecutive lines form one
  // paragraph, separated by <br>).
  Reply& Text(std::string_view line);
  // Adds preformatted text (help, JSON): as is in plain text, <pre><code> in HTML.
  Reply& Pre(std::string_view text);
  // Adds a table. Plain text aligns the columns (two spaces apart) under a header and a rule;
  // HTML is a <table> with a <thead>. An empty `header` gives a table without a header row
  // (key/value listings). Rows shorter than the widest are padded with empty cells. A table
  // without rows renders as the line "(none)".
  Reply& Table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows);

  // Renders every block in order.
  core::CommandOutput Render() const;

 private:
  enum class Kind { kText, kPre, kTable };
  struct Block {
    Kind kind;
    std::string text;
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
  };
  std::vector<Block> blocks_;
};

}  // namespace conclave::admin

#endif  // CONCLAVE_ADMIN_REPLY_H_
