// The one list of dissectors. Order matters only for flows whose ports hint at nothing:
// stricter probes first.
#include "dissector.h"

namespace nprobe {

extern const DissectorInfo kDnsInfo;
extern const DissectorInfo kDhcpInfo;
extern const DissectorInfo kRadiusInfo;
extern const DissectorInfo kSipInfo;
extern const DissectorInfo kGtpcInfo;

const std::vector<const DissectorInfo*>& dissectors() {
  static const std::vector<const DissectorInfo*> list = {
      &kDhcpInfo, &kRadiusInfo, &kGtpcInfo, &kSipInfo, &kDnsInfo,
  };
  return list;
}

}  // namespace nprobe
