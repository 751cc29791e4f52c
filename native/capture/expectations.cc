// Expected connections: see expectations.h.
#include "expectations.h"

#include "../util/hash.h"
#include "../util/limits.h"

namespace nprobe {

size_t ExpectationTable::KeyHash::operator()(const Key& k) const { return size_t(hash_bytes(&k, sizeof k)); }

ExpectationTable::Key ExpectationTable::key_of(Scope s, uint8_t ip_version, const IpAddr& addr, uint16_t port) {
  Key k;
  std::memcpy(k.addr, addr.b, sizeof k.addr);
  k.vlan_key = s.vlan_key;
  k.port = port;
  k.ip_version = ip_version;
  k.tunneled = s.tunneled;
  return k;
}

bool ExpectationTable::add(const Expectation& e, Scope s, uint64_t flow_id, uint64_t now_us) {
  expire(now_us);
  if (fifo_.size() >= limits::kMaxExpectations) return false;
  const Key k = key_of(s, e.ip_version, e.addr, e.port);
  fifo_.push_back(Entry{k, e, flow_id, now_us + limits::kExpectationTtlUs, serial_++});
  index_.emplace(k, std::prev(fifo_.end()));
  return true;
}

void ExpectationTable::erase(Fifo::iterator it) {
  auto [lo, hi] = index_.equal_range(it->key);
  for (auto i = lo; i != hi; ++i)
    if (i->second == it) {
      index_.erase(i);
      break;
    }
  fifo_.erase(it);
}

void ExpectationTable::expire(uint64_t now_us) {
  // Arrival order is expiry order (one TTL for all), but for packet times that go backwards:
  // then an announcement may outlive its time a little, behind an older one.
  while (!fifo_.empty() && fifo_.front().expires_us < now_us) erase(fifo_.begin());
}

bool ExpectationTable::take(Scope s, const Packet& p, uint64_t now_us, Taken& out) {
  expire(now_us);
  if (fifo_.empty()) return false;
  // The first packet's receiver is the expected server (a SYN to the announced port).
  auto [lo, hi] = index_.equal_range(key_of(s, p.ip_version, p.dst, p.dport));
  Fifo::iterator best = fifo_.end();
  for (auto i = lo; i != hi; ++i) {
    const Entry& en = *i->second;
    if (!en.e.any_client && !(en.e.client == p.src)) continue;
    if (best == fifo_.end() || en.serial < best->serial) best = i->second;
  }
  if (best == fifo_.end()) return false;
  out = Taken{best->e.l7, best->e.field, best->flow_id};
  erase(best);
  return true;
}

}  // namespace nprobe
