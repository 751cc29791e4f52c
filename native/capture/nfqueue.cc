// NFQUEUE capture: see nfqueue.h. libnetfilter_queue's classic API (nfq_open,
// nfq_create_queue, nfq_set_mode, nfq_set_queue_flags, nfq_handle_packet, nfq_set_verdict).
#include "nfqueue.h"

// glibc's netinet/in.h first: it tells the kernel headers below not to define in_addr again.
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "../util/limits.h"
#include "engine.h"

namespace nprobe {

NfQueue::~NfQueue() {
  if (q_) nfq_destroy_queue(q_);
  if (h_) nfq_close(h_);
}

int NfQueue::parse_source(const std::string& s) {
  if (s.rfind("nf:", 0) != 0) return -1;
  const std::string n = s.substr(3);
  if (n.empty() || n.size() > 5 || n.find_first_not_of("0123456789") != std::string::npos) return -2;
  const long v = std::strtol(n.c_str(), nullptr, 10);
  return v <= 65535 ? int(v) : -2;
}

void NfQueue::open(int num, bool fail_open, Handler h) {
  handler_ = std::move(h);
  const std::string what = "cannot read NFQUEUE " + std::to_string(num);
  h_ = nfq_open();
  if (!h_) throw CaptureError(what + ": netlink socket: " + strerror(errno));
  q_ = nfq_create_queue(h_, uint16_t(num), &NfQueue::on_packet, this);
  if (!q_) {
    const int e = errno;
    std::string why;
    // The kernel answers EPERM both without CAP_NET_ADMIN and when another socket owns the
    // queue number (nfnetlink_queue's config handler): root means the latter.
    if ((e == EPERM && geteuid() == 0) || e == EBUSY) why = "queue " + std::to_string(num) + " is already bound by another program";
    else if (e == EPERM || e == EACCES) why = "permission denied (run as root or grant CAP_NET_ADMIN)";
    else why = strerror(e);
    nfq_close(h_);
    h_ = nullptr;
    throw CaptureError(what + ": " + why);
  }
  if (nfq_set_mode(q_, NFQNL_COPY_PACKET, 0xffff) < 0)
    throw CaptureError(what + ": cannot ask for whole packets: " + strerror(errno));
  nfq_set_queue_maxlen(q_, uint32_t(limits::kNfqQueueMaxLen));
  uint32_t flags = NFQA_CFG_F_UID_GID | (fail_open ? NFQA_CFG_F_FAIL_OPEN : 0);
  if (nfq_set_queue_flags(q_, flags, flags) < 0) {
    // Kernels before 4.x lack UID_GID; fail-open was asked for explicitly, so it must work.
    if (fail_open && nfq_set_queue_flags(q_, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0)
      throw CaptureError(what + ": --queue-bypass: the kernel refused fail-open: " + strerror(errno));
  }
  const int fd = nfq_fd(h_);
  int sz = int(limits::kNfqSocketBuffer);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  buf_.resize(limits::kNfqRecvBuffer);
}

int NfQueue::fd() const { return h_ ? nfq_fd(h_) : -1; }

bool NfQueue::receive(std::string& err) {
  const int fd = nfq_fd(h_);
  for (int i = 0; i < 256; i++) {
    const ssize_t n = recv(fd, buf_.data(), buf_.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
      if (errno == ENOBUFS) {  // the kernel dropped queued packets for lack of socket room
        enobufs_++;
        continue;
      }
      err = std::string("NFQUEUE receive: ") + strerror(errno);
      return false;
    }
    nfq_handle_packet(h_, buf_.data(), int(n));
  }
  return true;
}

void NfQueue::verdict(uint32_t id, bool accept) {
  (accept ? accepted_ : dropped_)++;
  nfq_set_verdict(q_, id, accept ? NF_ACCEPT : NF_DROP, 0, nullptr);
}

int NfQueue::on_packet(nfq_q_handle*, nfgenmsg*, nfq_data* nfa, void* self) {
  NfQueue& q = *static_cast<NfQueue*>(self);
  NfPacket p;
  nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  p.id = ntohl(ph->packet_id);
  p.hook = ph->hook;
  p.indev = nfq_get_indev(nfa);
  p.outdev = nfq_get_outdev(nfa);
  p.has_uid = nfq_get_uid(nfa, &p.uid) > 0;
  p.has_gid = nfq_get_gid(nfa, &p.gid) > 0;
  timeval tv{};
  if (nfq_get_timestamp(nfa, &tv) != 0 || tv.tv_sec == 0) gettimeofday(&tv, nullptr);
  p.ts_us = uint64_t(tv.tv_sec) * 1000000 + uint64_t(tv.tv_usec);
  unsigned char* data = nullptr;
  const int len = nfq_get_payload(nfa, &data);
  if (len < 0 || !data) {
    q.verdict(p.id, true);  // nothing to look at: do not stand in the packet's way
    return 0;
  }
  p.data = data;
  p.len = uint32_t(len);
  q.handler_(p);
  return 0;
}

}  // namespace nprobe
