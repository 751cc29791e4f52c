// SKELETON (to be replaced by the IMAP dissector): registers the name so the framework builds.
#include "dissector.h"

namespace nprobe {
namespace {
class ImapDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx&) override {}
  void on_export(FieldWriter&) override {}
  uint16_t l7_proto() const override { return l7::kImap; }
};
bool hint(uint16_t c, uint16_t s) { return s == 143 || c == 143; }
bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }
int probe_stream(const uint8_t*, uint32_t, const uint8_t*, uint32_t, uint16_t, uint16_t) { return -1; }
std::unique_ptr<Dissector> create() { return std::make_unique<ImapDissector>(); }
}  // namespace
extern const DissectorInfo kImapInfo{"IMAP", l7::kImap, 6, hint, probe, create, probe_stream};
}  // namespace nprobe
