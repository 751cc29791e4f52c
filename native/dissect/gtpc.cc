// SKELETON (to be replaced by the GTPV1 dissector): registers the name so the framework builds.
#include "dissector.h"

namespace nprobe {
namespace {
class GtpcDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx&) override {}
  void on_export(FieldWriter&) override {}
  uint16_t l7_proto() const override { return l7::kGtpC; }
};
bool hint(uint16_t s, uint16_t d) { return s == 2123 || d == 2123; }
bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }
std::unique_ptr<Dissector> create() { return std::make_unique<GtpcDissector>(); }
}  // namespace
extern const DissectorInfo kGtpcInfo{"GTPV1", l7::kGtpC, 17, hint, probe, create};
}  // namespace nprobe
