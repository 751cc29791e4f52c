// SKELETON (to be replaced by the RADIUS dissector): registers the name so the framework builds.
#include "dissector.h"

namespace nprobe {
namespace {
class RadiusDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx&) override {}
  void on_export(FieldWriter&) override {}
  uint16_t l7_proto() const override { return l7::kRadius; }
};
bool hint(uint16_t s, uint16_t d) { return s == 1812 || d == 1812; }
bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }
std::unique_ptr<Dissector> create() { return std::make_unique<RadiusDissector>(); }
}  // namespace
extern const DissectorInfo kRadiusInfo{"RADIUS", l7::kRadius, 17, hint, probe, create};
}  // namespace nprobe
