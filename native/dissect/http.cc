// SKELETON (to be replaced by the HTTP dissector): registers the name so the framework builds.
#include "dissector.h"

namespace nprobe {
namespace {
class HttpDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx&) override {}
  void on_export(FieldWriter&) override {}
  uint16_t l7_proto() const override { return l7::kHttp; }
};
bool hint(uint16_t c, uint16_t s) { return s == 80 || c == 80; }
bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }
int probe_stream(const uint8_t*, uint32_t, const uint8_t*, uint32_t, uint16_t, uint16_t) { return -1; }
std::unique_ptr<Dissector> create() { return std::make_unique<HttpDissector>(); }
}  // namespace
extern const DissectorInfo kHttpInfo{"HTTP", l7::kHttp, 6, hint, probe, create, probe_stream};
}  // namespace nprobe
