// SKELETON (to be replaced by the POP dissector): registers the name so the framework builds.
#include "dissector.h"

namespace nprobe {
namespace {
class PopDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx&) override {}
  void on_export(FieldWriter&) override {}
  uint16_t l7_proto() const override { return l7::kPop3; }
};
bool hint(uint16_t c, uint16_t s) { return s == 110 || c == 110; }
bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }
int probe_stream(const uint8_t*, uint32_t, const uint8_t*, uint32_t, uint16_t, uint16_t) { return -1; }
std::unique_ptr<Dissector> create() { return std::make_unique<PopDissector>(); }
}  // namespace
extern const DissectorInfo kPopInfo{"POP", l7::kPop3, 6, hint, probe, create, probe_stream};
}  // namespace nprobe
