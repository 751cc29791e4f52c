// SKELETON (to be replaced by the DNS-TCP dissector): registers the name so the framework builds.
#include "dissector.h"

namespace nprobe {
namespace {
class DnsTcpDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx&) override {}
  void on_export(FieldWriter&) override {}
  uint16_t l7_proto() const override { return l7::kDns; }
};
bool hint(uint16_t c, uint16_t s) { return s == 53 || c == 53; }
bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }
int probe_stream(const uint8_t*, uint32_t, const uint8_t*, uint32_t, uint16_t, uint16_t) { return -1; }
std::unique_ptr<Dissector> create() { return std::make_unique<DnsTcpDissector>(); }
}  // namespace
extern const DissectorInfo kDnsTcpInfo{"DNS-TCP", l7::kDns, 6, hint, probe, create, probe_stream};
}  // namespace nprobe
