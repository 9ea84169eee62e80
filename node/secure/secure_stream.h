// node/secure/secure_stream.h
//
// SecureStream: an Asio AsyncStream over another (a tcp socket or a beast::tcp_stream)
// that seals what is written and opens what is read with a channel Session, so Beast's
// HTTP reads and writes run over the node-to-node channel unchanged (node/http_client.cc).
//
// Contract:
//  - One read and one write may be outstanding at a time, as with a socket.
//  - A record that fails to open ends the stream with errc::bad_message; the peer's end
//    without its final record is the same error (a truncation), its final record is eof.
//  - Timeouts are the next layer's (beast::tcp_stream::expires_after).
//  - async_close() sends our final record; the socket stays open.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/system/error_code.hpp>

#include <vector>

#include "node/secure/session.h"

namespace shoal::node::secure {

template <class Next>
class SecureStream {
 public:
  using executor_type = typename Next::executor_type;

  SecureStream(Next& next, Session& session) : next_(next), session_(session), in_(kMaxRecordPlain + kRecordOverhead) {}

  executor_type get_executor() noexcept { return next_.get_executor(); }
  Next& next_layer() { return next_; }
  // Why the stream failed, when an operation ended with bad_message.
  const Status& error() const { return error_; }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, size_t)>(
        ReadOp<Buffers>{this, buffers}, token, next_);
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, size_t)>(
        WriteOp<Buffers>{this, buffers}, token, next_);
  }

  template <class Token>
  auto async_close(Token&& token) {
    out_.clear();
    session_.sealer.close(out_);
    return boost::asio::async_write(next_, boost::asio::buffer(out_), std::forward<Token>(token));
  }

 private:
  static boost::system::error_code bad_message() {
    return boost::system::errc::make_error_code(boost::system::errc::bad_message);
  }

  template <class Buffers>
  struct ReadOp {
    SecureStream* s;
    Buffers buffers;
    bool reading = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, size_t n = 0) {
      if (reading) {
        reading = false;
        if (ec == boost::asio::error::eof) {
          Status end = s->session_.opener.end_of_input();
          if (!end.ok()) {
            s->error_ = end;
            return self.complete(bad_message(), 0);
          }
          return self.complete(ec, 0);
        }
        if (ec) return self.complete(ec, 0);
        Status st = s->session_.opener.feed(ByteView(s->in_.data(), n), s->plain_);
        if (!st.ok()) {
          s->error_ = st;
          return self.complete(bad_message(), 0);
        }
      }
      if (s->plain_.size() > s->plain_at_) {
        const size_t copied = boost::asio::buffer_copy(
            buffers, boost::asio::buffer(s->plain_.data() + s->plain_at_,
                                         s->plain_.size() - s->plain_at_));
        s->plain_at_ += copied;
        if (s->plain_at_ == s->plain_.size()) {
          s->plain_.clear();
          s->plain_at_ = 0;
        }
        return self.complete({}, copied);
      }
      if (s->session_.opener.finished()) return self.complete(boost::asio::error::eof, 0);
      reading = true;
      s->next_.async_read_some(boost::asio::buffer(s->in_), std::move(self));
    }
  };

  template <class Buffers>
  struct WriteOp {
    SecureStream* s;
    Buffers buffers;
    size_t taken = 0;
    bool writing = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, size_t = 0) {
      if (writing) return self.complete(ec, ec ? 0 : taken);
      // Gather up to one record's worth of the caller's buffers, then seal it.
      s->scratch_.clear();
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers) && s->scratch_.size() < kMaxRecordPlain;
           ++it) {
        const boost::asio::const_buffer b(*it);
        const size_t want = std::min(b.size(), kMaxRecordPlain - s->scratch_.size());
        const auto* p = static_cast<const uint8_t*>(b.data());
        s->scratch_.insert(s->scratch_.end(), p, p + want);
      }
      taken = s->scratch_.size();
      if (taken == 0) return self.complete({}, 0);
      s->out_.clear();
      s->session_.sealer.seal(s->scratch_, s->out_);
      writing = true;
      boost::asio::async_write(s->next_, boost::asio::buffer(s->out_), std::move(self));
    }
  };

  Next& next_;
  Session& session_;
  std::vector<uint8_t> in_;
  Bytes plain_;
  size_t plain_at_ = 0;
  Bytes scratch_;
  Bytes out_;
  Status error_;
};

}  // namespace shoal::node::secure
