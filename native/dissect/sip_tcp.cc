// SKELETON (to be replaced by the SIP-TCP dissector): registers the name so the framework builds.
#include "dissector.h"

namespace nprobe {
namespace {
class SipTcpDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx&) override {}
  void on_export(FieldWriter&) override {}
  uint16_t l7_proto() const override { return l7::kSip; }
};
bool hint(uint16_t c, uint16_t s) { return s == 5060 || c == 5060; }
bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }
int probe_stream(const uint8_t*, uint32_t, const uint8_t*, uint32_t, uint16_t, uint16_t) { return -1; }
std::unique_ptr<Dissector> create() { return std::make_unique<SipTcpDissector>(); }
}  // namespace
extern const DissectorInfo kSipTcpInfo{"SIP-TCP", l7::kSip, 6, hint, probe, create, probe_stream};
}  // namespace nprobe
