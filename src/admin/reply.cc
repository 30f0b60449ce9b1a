#include "reply.h"

#include <algorithm>

namespace conclave::admin {
namespace {

// Display width of UTF-8 text, counted in code points (good enough for ids, names and numbers).
size_t Width(std::string_view text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

void AppendPadded(std::string* out, std::string_view cell, size_t width) {
  out->append(cell);
  out->append(width - std::min(width, Width(cell)), ' ');
}

void RenderPlainTable(const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows, std::string* out) {
  size_t columns = header.size();
  for (const auto& row : rows) columns = std::max(columns, row.size());
  std::vector<size_t> widths(columns, 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], Width(row[i]));
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto line = [&](const std::vector<std::string>& row) {
    std::string text;
    for (size_t i = 0; i < columns; ++i) {
      std::string_view cell = i < row.size() ? std::string_view(row[i]) : std::string_view();
      if (i + 1 == columns) {
        text.append(cell);
      } else {
        AppendPadded(&text, cell, widths[i]);
        text.append("  ");
      }
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out->append(text).append("\n");
  };
  if (!header.empty()) {
    line(header);
    std::vector<std::string> rule;
    for (size_t w : widths) rule.emplace_back(std::max<size_t>(w, 1), '-');
    line(rule);
  }
  for (const auto& row : rows) line(row);
}

void RenderHtmlTable(const std::vector<std::string>& header,
                     const std::vector<std::vector<std::string>>& rows, std::string* out) {
  size_t columns = header.size();
  for (const auto& row : rows) columns = std::max(columns, row.size());
  out->append("<table>");
  if (!header.empty()) {
    out->append("<thead><tr>");
    for (size_t i = 0; i < columns; ++i) {
      out->append("<th>").append(i < header.size() ? EscapeHtml(header[i]) : "").append("</th>");
    }
    out->append("</tr></thead>");
  }
  out->append("<tbody>");
  for (const auto& row : rows) {
    out->append("<tr>");
    for (size_t i = 0; i < columns; ++i) {
      out->append("<td>").append(i < row.size() ? EscapeHtml(row[i]) : "").append("</td>");
    }
    out->append("</tr>");
  }
  out->append("</tbody></table>");
}

}  // namespace

Reply& Reply::Text(std::string_view line) {
  blocks_.push_back(Block{Kind::kText, std::string(line), {}, {}});
  return *this;
}

Reply& Reply::Pre(std::string_view text) {
  blocks_.push_back(Block{Kind::kPre, std::string(text), {}, {}});
  return *this;
}

Reply& Reply::Table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows) {
  if (rows.empty()) return Text("(none)");
  blocks_.push_back(Block{Kind::kTable, "", std::move(header), std::move(rows)});
  return *this;
}

core::CommandOutput Reply::Render() const {
  core::CommandOutput out;
  bool in_paragraph = false;
  for (const Block& block : blocks_) {
    if (block.kind != Kind::kText && in_paragraph) {
      out.html += "</p>";
      in_paragraph = false;
    }
    switch (block.kind) {
      case Kind::kText:
        out.plain.append(block.text).append("\n");
        out.html += in_paragraph ? "<br>" : "<p>";
        in_paragraph = true;
        for (char c : EscapeHtml(block.text)) {
          if (c == '\n') {
            out.html += "<br>";
          } else {
            out.html += c;
          }
        }
        break;
      case Kind::kPre:
        out.plain.append(block.text);
        if (!block.text.empty() && block.text.back() != '\n') out.plain += "\n";
        out.html.append("<pre><code>").append(EscapeHtml(block.text)).append("</code></pre>");
        break;
      case Kind::kTable:
        RenderPlainTable(block.header, block.rows, &out.plain);
        RenderHtmlTable(block.header, block.rows, &out.html);
        break;
    }
  }
  if (in_paragraph) out.html += "</p>";
  return out;
}

}  // namespace conclave::admin
