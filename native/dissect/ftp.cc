// SKELETON (to be replaced by the FTP dissector): registers the name so the framework builds.
#include "dissector.h"

namespace nprobe {
namespace {
class FtpDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx&) override {}
  void on_export(FieldWriter&) override {}
  uint16_t l7_proto() const override { return l7::kFtpControl; }
};
bool hint(uint16_t c, uint16_t s) { return s == 21 || c == 21; }
bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }
int probe_stream(const uint8_t*, uint32_t, const uint8_t*, uint32_t, uint16_t, uint16_t) { return -1; }
std::unique_ptr<Dissector> create() { return std::make_unique<FtpDissector>(); }
}  // namespace
extern const DissectorInfo kFtpInfo{"FTP", l7::kFtpControl, 6, hint, probe, create, probe_stream};
}  // namespace nprobe
