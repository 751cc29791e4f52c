// Named caps for every piece of state that can grow (DESIGN.md §6). Each cap, when hit,
// is counted under an anomaly or a stats counter with the same idea in its name.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nprobe::limits {

// Link layer
inline constexpr int kMaxVlanTags = 4;          // 802.1Q/802.1ad tags popped per frame
inline constexpr int kMaxMplsLabels = 8;        // MPLS label stack depth
inline constexpr int kMaxIpv6ExtHeaders = 16;   // IPv6 extension headers walked per packet
inline constexpr int kMaxTunnelDepth = 1;       // GTP-U decapsulations per packet
inline constexpr int kMaxGtpExtHeaders = 8;     // GTP-U extension headers walked

// IP fragment reassembly (RFC 791 / RFC 8200 §4.5)
inline constexpr size_t kMaxFragDatagrams = 8192;            // datagrams in flight
inline constexpr size_t kMaxFragmentsPerDatagram = 64;       // fragments per datagram
inline constexpr size_t kMaxFragDatagramBytes = 65535 + 40;  // largest reassembled L3 payload
inline constexpr size_t kMaxFragTotalBytes = 64u << 20;      // all reassembly buffers together
inline constexpr uint64_t kFragTimeoutUs = 30ull * 1000000;  // RFC 8200 suggests 60 s; Linux uses 30

// Flow table
inline constexpr uint32_t kDefaultMaxFlows = 524288;     // nProbe's -M default
inline constexpr uint64_t kTcpCloseLingerUs = 2000000;   // keep a FIN/RST-closed flow for late ACKs

// Expected connections (FTP data channels)
inline constexpr size_t kMaxExpectations = 4096;          // waiting announcements, all flows
inline constexpr uint64_t kExpectationTtlUs = 120ull * 1000000;  // an announcement unused this long goes

// JS boundary
inline constexpr size_t kDefaultQueueRecords = 16384;    // finished flows waiting for JS
inline constexpr size_t kMaxBatchRecords = 4096;         // records handed to JS per readBatch
inline constexpr size_t kMaxGraveyard = 65536;            // finished dissectors waiting for the capture thread to free them
inline constexpr size_t kSignalBatchRecords = 256;       // queued flows that wake JS (ticks wake it too)
inline constexpr uint64_t kSignalIntervalUs = 10000;      // a tick wakes JS for a shorter queue this long after the last wake-up

// Connection hook (intercept_hook, DESIGN.md §5; native/capture/intercept.h)
inline constexpr size_t kDefaultMaxPendingConns = 4096;     // connections waiting for a verdict
inline constexpr size_t kMaxHeldSegmentsPerConn = 64;       // payload segments kept per pending connection
inline constexpr size_t kMaxHeldBytesPerConn = 256 * 1024;  // payload bytes kept per pending connection
inline constexpr size_t kMaxHeldBytesTotal = 64u << 20;     // payload bytes kept over all pending connections
inline constexpr size_t kMaxHeldNfPackets = 64;             // NFQUEUE packets held per pending connection
inline constexpr uint8_t kMaxResetRoundsPerConn = 4;        // passive --intercept-rst: reset pairs per rejected connection
inline constexpr size_t kMaxConnBatch = 4096;               // connection events handed to JS per readConns
inline constexpr uint64_t kInterceptGraceUs = 1000000;      // live: past the JS time-out, the default applies natively
inline constexpr size_t kNfqQueueMaxLen = 4096;             // packets the kernel queues for us
inline constexpr size_t kNfqSocketBuffer = 8u << 20;        // netlink receive buffer
inline constexpr size_t kNfqRecvBuffer = 256 * 1024;        // one recv() (several packets)

}  // namespace nprobe::limits
