// node/router/message_writer.cc
#include "node/router/message_writer.h"

namespace shoal::node::router {

namespace {

void append_version(unsigned version, std::string& out) {
  out += "HTTP/";
  out += static_cast<char>('0' + version / 10 % 10);
  out += '.';
  out += static_cast<char>('0' + version % 10);
}

template <class Header>
void append_fields(const Header& fields, std::string& out) {
  for (const auto& f : fields) {
    const auto name = f.name_string();
    const auto value = f.value();
    out.append(name.data(), name.size());
    out += ": ";
    out.append(value.data(), value.size());
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace

void format_head(const boost::beast::http::header<true, Fields>& h, std::string& out) {
  const auto method = h.method_string();
  const auto target = h.target();
  out.append(method.data(), method.size());
  out += ' ';
  out.append(target.data(), target.size());
  out += ' ';
  append_version(h.version(), out);
  out += "\r\n";
  append_fields(h, out);
}

void format_head(const boost::beast::http::header<false, Fields>& h, std::string& out) {
  append_version(h.version(), out);
  const unsigned code = h.result_int();
  const char status[] = {' ', static_cast<char>('0' + code / 100 % 10),
                         static_cast<char>('0' + code / 10 % 10),
                         static_cast<char>('0' + code % 10), ' '};
  out.append(status, sizeof status);
  const auto reason = h.reason();
  out.append(reason.data(), reason.size());
  out += "\r\n";
  append_fields(h, out);
}

}  // namespace shoal::node::router
