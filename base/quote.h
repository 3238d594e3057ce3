// Untrusted text (a file's header, an archive's member) quoted for an error message: bounded, so a
// hostile file cannot make a huge message, and printable, so it cannot corrupt a terminal.
#ifndef KILN_BASE_QUOTE_H_
#define KILN_BASE_QUOTE_H_

#include <string>
#include <string_view>

namespace kiln {

// 'text' with at most `max_bytes` bytes shown (then "..."), non-printable bytes as \xNN.
inline std::string Quoted(std::string_view text, size_t max_bytes = 40) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < max_bytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out + (text.size() > max_bytes ? "...'" : "'");
}

}  // namespace kiln

#endif  // KILN_BASE_QUOTE_H_
