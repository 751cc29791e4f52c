// SKELETON (to be replaced by the SMTP dissector): registers the name so the framework builds.
#include "dissector.h"

namespace nprobe {
namespace {
class SmtpDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx&) override {}
  void on_export(FieldWriter&) override {}
  uint16_t l7_proto() const override { return l7::kSmtp; }
};
bool hint(uint16_t c, uint16_t s) { return s == 25 || c == 25; }
bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }
int probe_stream(const uint8_t*, uint32_t, const uint8_t*, uint32_t, uint16_t, uint16_t) { return -1; }
std::unique_ptr<Dissector> create() { return std::make_unique<SmtpDissector>(); }
}  // namespace
extern const DissectorInfo kSmtpInfo{"SMTP", l7::kSmtp, 6, hint, probe, create, probe_stream};
}  // namespace nprobe
