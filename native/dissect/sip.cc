// SKELETON (to be replaced by the SIP dissector): registers the name so the framework builds.
#include "dissector.h"

namespace nprobe {
namespace {
class SipDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx&) override {}
  void on_export(FieldWriter&) override {}
  uint16_t l7_proto() const override { return l7::kSip; }
};
bool hint(uint16_t s, uint16_t d) { return s == 5060 || d == 5060; }
bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }
std::unique_ptr<Dissector> create() { return std::make_unique<SipDissector>(); }
}  // namespace
extern const DissectorInfo kSipInfo{"SIP", l7::kSip, 17, hint, probe, create};
}  // namespace nprobe
