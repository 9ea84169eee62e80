// node/serf_rpc/codec.h
//
// The byte format of Serf's agent RPC ("IPC", serf/cmd/serf/command/agent/ipc.go and
// serf/client), without any IO. A connection carries a stream of msgpack values with no
// length prefix:
//
//   client -> agent:  {Command, Seq}  then, for commands that take one, a body value
//   agent -> client:  {Seq, Error}    then, for commands that return one, a body value;
//                     streams (stream, monitor, query) send further header+record pairs
//                     under the seq of the request that opened them.
//
// Go structs travel as maps keyed by field name; the agent writes them as go-msgpack's
// MsgpackHandle{WriteExt: true} does (strings as str incl. str8, byte slices as bin).
//
// Contract:
//  - RequestDecoder owns a copy of the bytes fed to it; the Requests it returns own their
//    data. Not thread-safe: one per connection, used from that connection's strand.
//  - Nothing is allocated on the peer's say-so beyond `max_value_bytes` of buffered input:
//    a value that is still incomplete past that is an error.
//  - Errors never throw. A header that cannot be read is an error of next(); a header that
//    reads but names an unknown command or carries a bad body comes back as a Request
//    (so the caller can answer that seq, as serf does), and the decoder gives up after it:
//    the stream can no longer be framed, since whether a body follows depends on the command.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "gossip/events.h"

namespace shoal::node::serf_rpc {

inline constexpr int32_t kIpcVersion = 1;  // serf's MinIPCVersion == MaxIPCVersion

// Serf's error strings, word for word: clients compare some of them.
inline constexpr std::string_view kErrUnsupportedCommand = "Unsupported command";
inline constexpr std::string_view kErrUnsupportedVersion = "Unsupported IPC version";
inline constexpr std::string_view kErrDuplicateHandshake = "Handshake already performed";
inline constexpr std::string_view kErrHandshakeRequired = "Handshake required";
inline constexpr std::string_view kErrMonitorExists = "Monitor already exists";
inline constexpr std::string_view kErrInvalidFilter = "Invalid event filter";
inline constexpr std::string_view kErrStreamExists = "Stream with given sequence exists";
inline constexpr std::string_view kErrInvalidQueryId = "No pending queries matching ID";
inline constexpr std::string_view kErrAuthRequired = "Authentication required";
inline constexpr std::string_view kErrInvalidAuthToken = "Invalid authentication token";

enum class Command : uint8_t {
  unknown,
  handshake,
  auth,
  event,
  force_leave,
  join,
  members,
  members_filtered,
  stream,
  stop,
  monitor,
  leave,
  install_key,
  use_key,
  remove_key,
  list_keys,
  tags,
  query,
  respond,
  stats,
  get_coordinate,
};

// "members-filtered" -> Command::members_filtered; Command::unknown for anything else.
Command command_from_name(std::string_view name);
std::string_view command_name(Command c);
// Whether a request body follows the header (members, leave, list-keys, stats: no).
bool has_request_body(Command c);

// ---- request bodies (field names as in serf's ipc.go) ----
struct NoBody {};
struct HandshakeRequest { int32_t version = 0; };
struct AuthRequest { std::string auth_key; };
struct EventRequest { std::string name; Bytes payload; bool coalesce = false; };
struct ForceLeaveRequest { std::string node; bool prune = false; };
struct JoinRequest { std::vector<std::string> existing; bool replay = false; };
struct MembersFilteredRequest {
  std::map<std::string, std::string> tags;  // tag -> regex
  std::string status;                       // regex
  std::string name;                         // regex
};
struct KeyRequest { std::string key; };
struct MonitorRequest { std::string log_level; };
struct StreamRequest { std::string type; };
struct StopRequest { uint64_t stop = 0; };
struct TagsRequest {
  std::map<std::string, std::string> tags;
  std::vector<std::string> delete_tags;
};
struct QueryRequest {
  std::vector<std::string> filter_nodes;
  std::map<std::string, std::string> filter_tags;
  bool request_ack = false;
  uint8_t relay_factor = 0;
  int64_t timeout_ns = 0;  // Go time.Duration; 0: the agent's default
  std::string name;
  Bytes payload;
};
struct RespondRequest { uint64_t id = 0; Bytes payload; };
struct CoordinateRequest { std::string node; };

using RequestBody =
    std::variant<NoBody, HandshakeRequest, AuthRequest, EventRequest, ForceLeaveRequest,
                 JoinRequest, MembersFilteredRequest, KeyRequest, MonitorRequest, StreamRequest,
                 StopRequest, TagsRequest, QueryRequest, RespondRequest, CoordinateRequest>;

struct Request {
  Command command = Command::unknown;
  std::string command_name;  // as sent (printable for logs: escaped, bounded)
  uint64_t seq = 0;
  RequestBody body;
  // The header read fine but the body did not; the decoder has given up after this.
  Status body_error;
};

inline constexpr size_t kDefaultMaxValueBytes = 1024 * 1024;

class RequestDecoder {
 public:
  explicit RequestDecoder(size_t max_value_bytes = kDefaultMaxValueBytes)
      : max_value_bytes_(max_value_bytes) {}

  void feed(ByteView data);
  // The next complete request; nullopt when more bytes are needed. corruption when the
  // bytes cannot be a request header, invalid_argument when a value is larger than
  // max_value_bytes, failed_precondition once the decoder has given up.
  Result<std::optional<Request>> next();
  size_t buffered() const { return buf_.size() - pos_; }
  bool broken() const { return broken_; }

 private:
  Result<std::optional<size_t>> complete_value_at(size_t offset) const;
  size_t max_value_bytes_;
  Bytes buf_;
  size_t pos_ = 0;  // bytes before pos_ are consumed
  bool broken_ = false;
};

// ---- responses ------------------------------------------------------------------------
// Each encode_* appends one complete msgpack value to `out`.

void encode_response_header(Bytes& out, uint64_t seq, std::string_view error);

// serf's Member as the RPC carries it: status as text, the address as raw IP bytes.
void encode_members_response(Bytes& out, const std::vector<gossip::Member>& members);
void encode_join_response(Bytes& out, int32_t num);

struct KeyResponse {
  std::map<std::string, std::string> messages;
  std::map<std::string, int> keys;  // list-keys only
  int num_nodes = 0;
  int num_err = 0;
  int num_resp = 0;
};
void encode_key_response(Bytes& out, const KeyResponse& r, bool with_keys);

using StatsResponse = std::map<std::string, std::map<std::string, std::string>>;
void encode_stats_response(Bytes& out, const StatsResponse& stats);
// {Coord: the zero coordinate, Ok: false}: coordinates are not computed here.
void encode_no_coordinate_response(Bytes& out);

inline constexpr std::string_view kQueryRecordAck = "ack";
inline constexpr std::string_view kQueryRecordResponse = "response";
inline constexpr std::string_view kQueryRecordDone = "done";
void encode_query_record(Bytes& out, std::string_view type, std::string_view from,
                         ByteView payload);
void encode_log_record(Bytes& out, std::string_view line);
void encode_user_event_record(Bytes& out, const gossip::UserEvent& ev);
void encode_query_event_record(Bytes& out, uint64_t id, const gossip::QueryReceived& q);
// event: "member-join", ...; serf batches members per event, we send one per record.
void encode_member_event_record(Bytes& out, std::string_view event,
                                const std::vector<gossip::Member>& members);

// ---- the client side, for tests and tools ----------------------------------------------
// A request frame as serf's client writes it; `body` is one encoded value or empty.
Bytes encode_request(std::string_view command, uint64_t seq, ByteView body = {});

struct ResponseHeader {
  uint64_t seq = 0;
  std::string error;
};
// Reads {Seq, Error} at the front of `data`; *used is set to its length. nullopt: more
// bytes needed.
Result<std::optional<ResponseHeader>> decode_response_header(ByteView data, size_t* used);

}  // namespace shoal::node::serf_rpc
