// libFuzzer entry point for one dissector (chosen at build time: -DNPROBE_FUZZ_DISSECTOR="DNS").
// Input: a sequence of payloads, each  u8 flags | u16 little-endian length | bytes, fed to
// probe() (and probe_stream() on the first 2 KiB of each direction) and on_payload() as one
// flow, then on_export(). Flags: bit 0 direction, bit 1 a stream gap of length+1 bytes (no
// bytes follow), bit 2 no packet metadata (PayloadCtx.pkt NULL, as at a TCP flow's end), bit 3
// the payload is first offered to skip_payload() and not delivered when it is taken, as the
// engine does with stream bytes. Built and run by scripts/fuzz.sh (npm run fuzz -- <target> <seconds>).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "../dissect/dissector.h"
#include "../util/byte_reader.h"

#ifndef NPROBE_FUZZ_DISSECTOR
#error "build with -DNPROBE_FUZZ_DISSECTOR=\"NAME\""
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nprobe::DissectorInfo* info = nprobe::find_dissector(NPROBE_FUZZ_DISSECTOR);
  if (!info) std::abort();
  static nprobe::DissectorAnomalyCounts counts;
  nprobe::set_thread_anomaly_counts(&counts);
  // Half the inputs (odd sizes) use a port the dissector hints at, so the port-hinted
  // branches of probe() are fuzzed too; the others use ports that hint at nothing here.
  static const uint16_t hinted = [] {
    for (uint16_t p : {53, 67, 68, 546, 547, 1812, 1813, 1645, 1646, 3799, 5060, 2123, 80, 25, 143, 110, 21})
      if (info->port_hint(40000, p)) return p;
    return uint16_t(53);
  }();
  const uint16_t server_port = (size & 1) ? hinted : 9;
  auto d = info->create();
  nprobe::ByteReader r(data, size);
  uint64_t ts = 1'000'000;
  int n = 0;
  std::vector<uint8_t> head[2];  // first bytes of each direction, for a TCP stream probe
  while (r.has(3) && n++ < 64 && !d->finished()) {
    const uint8_t flags = r.u8();
    const uint8_t dir = flags & 1;
    if (flags & 2) {
      // A stream hole: the length field is the hole's size in bytes (TCP dissectors).
      const uint16_t glo = r.u8(), ghi = r.u8();
      d->on_gap(dir, uint64_t(glo | ghi << 8) + 1);
      continue;
    }
    const uint16_t lo = r.u8(), hi = r.u8();
    const size_t len = std::min<size_t>(size_t(lo | hi << 8), r.remaining());
    // Copy into an exact-size heap buffer so ASan sees any read past the payload.
    std::vector<uint8_t> buf(r.cur(), r.cur() + len);
    r.skip(len);
    nprobe::Packet p;
    p.ip_version = 4;
    p.proto = info->ip_proto;
    p.sport = dir ? server_port : 40000;
    p.dport = dir ? 40000 : server_port;
    p.has_ports = true;
    p.ts_us = ts += 1000;
    (void)info->probe(buf.data(), uint32_t(buf.size()), p.sport, p.dport);
    if (info->probe_stream) {
      const size_t room = 2048 - std::min<size_t>(2048, head[dir].size());
      head[dir].insert(head[dir].end(), buf.begin(), buf.begin() + std::min(room, buf.size()));
      // Exact-size copies again, so a read past either head is caught.
      std::vector<uint8_t> c(head[0]), s(head[1]);
      (void)info->probe_stream(c.data(), uint32_t(c.size()), s.data(), uint32_t(s.size()), 40000, server_port);
    }
    if ((flags & 8) && d->skip_payload(dir, uint32_t(buf.size()))) continue;
    // Half the time the packet is withheld, as at the final flush of a TCP flow.
    d->on_payload(nprobe::PayloadCtx{p.ts_us, dir, buf.data(), uint32_t(buf.size()), (flags & 4) ? nullptr : &p});
  }
  std::vector<uint8_t> ext;
  nprobe::FieldWriter w(ext);
  d->on_export(w);
  return 0;
}
