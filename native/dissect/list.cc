// The one list of dissectors. Order matters only for flows whose ports hint at nothing:
// stricter probes first.
#include "dissector.h"

namespace nprobe {

extern const DissectorInfo kDnsInfo;
extern const DissectorInfo kDhcpInfo;
extern const DissectorInfo kRadiusInfo;
extern const DissectorInfo kSipInfo;
extern const DissectorInfo kGtpcInfo;
extern const DissectorInfo kHttpInfo;
extern const DissectorInfo kSmtpInfo;
extern const DissectorInfo kImapInfo;
extern const DissectorInfo kPopInfo;
extern const DissectorInfo kFtpInfo;
extern const DissectorInfo kDnsTcpInfo;
extern const DissectorInfo kSipTcpInfo;

const std::vector<const DissectorInfo*>& dissectors() {
  static const std::vector<const DissectorInfo*> list = {
      &kDhcpInfo, &kRadiusInfo, &kGtpcInfo, &kSipInfo, &kDnsInfo,
      &kHttpInfo, &kSmtpInfo, &kImapInfo, &kPopInfo, &kFtpInfo, &kSipTcpInfo, &kDnsTcpInfo,
  };
  return list;
}

}  // namespace nprobe
