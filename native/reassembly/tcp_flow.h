// Per-flow TCP state for dissection: both directions' streams, and the first bytes of each
// kept until a TCP dissector recognises the protocol (then replayed to it in arrival order).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "tcp_stream.h"

namespace nprobe {

namespace reasm_limits {
inline constexpr uint32_t kProbeBytesPerDir = 2048;      // bytes of each direction kept for probing
inline constexpr uint64_t kMaxWaitingTotal = 128u << 20; // out-of-order bytes over all flows
}

struct TcpFlowState {
  TcpStream dir[2];
  std::vector<uint8_t> head[2];                       // first bytes, until classified
  std::vector<std::pair<uint8_t, uint32_t>> chunks;   // (direction, length) in arrival order
};

}  // namespace nprobe
