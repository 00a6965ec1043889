// The rdma module's data path: receive buffers, fragments, credits and completions.
#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "libos/module_host.h"
#include "modules/rdma/rdma_module.h"

namespace demi::rdma {

namespace {

constexpr uint64_t kRecv = 1;
constexpr uint64_t kSend = 2;

uint64_t wr_id(uint64_t kind, uint32_t slot) { return (kind << 32) | slot; }

// What a failed work completion means for the connection.
int wc_errno(ibv_wc_status s) {
  switch (s) {
    case IBV_WC_RETRY_EXC_ERR:
    case IBV_WC_RNR_RETRY_EXC_ERR:
      return ECONNRESET;  // the peer stopped answering
    case IBV_WC_REM_ACCESS_ERR:
    case IBV_WC_REM_INV_REQ_ERR:
    case IBV_WC_REM_OP_ERR:
      return EPROTO;
    case IBV_WC_LOC_LEN_ERR:
      return EMSGSIZE;  // a fragment larger than the receive buffer: the peer broke the protocol
    default:
      return EIO;
  }
}

}  // namespace

bool RdmaModule::poll_device(Device& d) {
  ibv_cq* cq = nullptr;
  void* ctx = nullptr;
  unsigned events = 0;
  while (ibv_get_cq_event(d.channel, &cq, &ctx) == 0) ++events;  // non-blocking fd: EAGAIN ends it
  if (events > 0) {
    ibv_ack_cq_events(d.cq, events);
    d.armed = false;  // a notification is one-shot
  }
  bool progress = drain_cq(d);
  if (!d.armed) {
    // Arm, then look again: a completion that landed between the last poll and the arming
    // would otherwise wait for the next one to wake us.
    ibv_req_notify_cq(d.cq, 0);
    d.armed = true;
    progress |= drain_cq(d);
  }
  return progress;
}

bool RdmaModule::drain_cq(Device& d) {
  bool progress = false;
  ibv_wc wc[32];
  for (;;) {
    int n = ibv_poll_cq(d.cq, 32, wc);
    if (n <= 0) break;
    progress = true;
    for (int i = 0; i < n; ++i) on_completion(wc[i]);
    if (n < 32) break;
  }
  return progress;
}

void RdmaModule::on_completion(const ibv_wc& wc) {
  auto it = by_qp_.find(wc.qp_num);
  if (it == by_qp_.end()) return;  // a queue pair that is gone
  Endpoint& ep = *it->second;
  uint64_t kind = wc.wr_id >> 32;
  auto slot = static_cast<uint32_t>(wc.wr_id);

  if (kind == kRecv) {
    mem::BufRef buf = std::move(ep.recv_slots[slot]);
    ep.recv_free.push_back(slot);
    --ep.posted;
    if (wc.status != IBV_WC_SUCCESS) {
      // Flushed receives are the normal end of a queue pair; anything else ends the connection.
      if (wc.status != IBV_WC_WR_FLUSH_ERR) fail(ep, wc_errno(wc.status), ibv_wc_status_str(wc.status));
      return;
    }
    if (wc.opcode != IBV_WC_RECV || !(wc.wc_flags & IBV_WC_WITH_IMM)) {
      fail(ep, EPROTO, "a message without a fragment header");
      return;
    }
    auto h = FragmentHeader::decode(ntohl(wc.imm_data));
    if (!h) {
      fail(ep, EPROTO, "a malformed fragment header");
      return;
    }
    ep.credits.granted(h->credits);
    if (h->credit_only) {
      // The buffer is still empty: post it again as it is.
      if (post_recv(ep, std::move(buf)) == 0) ep.credits.reposted();
    } else {
      ep.rx_partial_bytes += wc.byte_len;
      if (ep.rx_partial_bytes > cfg_.max_message_bytes) {
        fail(ep, EMSGSIZE, "a message larger than rdma.max_message_bytes");
        return;
      }
      buf.set_length(wc.byte_len);
      ep.rx.push_back(Fragment{std::move(buf), h->end});
      if (h->end) {
        ++ep.rx_messages;
        ep.rx_partial_bytes = 0;
      }
      refill(ep, true);
    }
    try_send(ep);
    ep.changed.notify_all();
    return;
  }

  if (kind == kSend) {
    SendSlot s = ep.send_slots[slot];
    ep.send_slots[slot] = SendSlot{};
    ep.send_free.push_back(slot);
    --ep.sq_outstanding;
    if (wc.status != IBV_WC_SUCCESS) {
      if (wc.status != IBV_WC_WR_FLUSH_ERR || ep.state != State::Failed)
        fail(ep, wc_errno(wc.status), ibv_wc_status_str(wc.status));
      return;
    }
    if (s.req && s.last) {
      // RC completes sends in order: the last fragment's completion means the whole message
      // is in the peer's receive buffers.
      s.req->finished = true;
      s.req->result = 0;
      ep.changed.notify_all();
    }
    try_send(ep);
  }
}

int RdmaModule::post_recv(Endpoint& ep, mem::BufRef buf) {
  if (!ep.qp || ep.recv_free.empty()) return ENOBUFS;
  uint32_t key = 0;
  int err = 0;
  if (!ep.dev->memory->lkey(buf.block(), buf.data(), cfg_.recv_buffer_size, &key, &err)) return err;
  uint32_t slot = ep.recv_free.back();
  ibv_sge sge{};
  sge.addr = reinterpret_cast<uintptr_t>(buf.data());
  sge.length = cfg_.recv_buffer_size;
  sge.lkey = key;
  ibv_recv_wr wr{};
  wr.wr_id = wr_id(kRecv, slot);
  wr.sg_list = &sge;
  wr.num_sge = 1;
  ibv_recv_wr* bad = nullptr;
  if (int rc = ibv_post_recv(ep.qp, &wr, &bad)) return rc;
  ep.recv_free.pop_back();
  buf.set_length(cfg_.recv_buffer_size);
  ep.recv_slots[slot] = std::move(buf);
  ++ep.posted;
  return 0;
}

int RdmaModule::refill(Endpoint& ep, bool announce) {
  while (ep.posted < cfg_.recv_buffers) {
    mem::Block* b = host_->allocator().allocate(cfg_.recv_buffer_size);
    if (!b) {
      // The application holds the memory: the window shrinks until it frees some (backpressure).
      refill_pending_ = true;
      return ENOMEM;
    }
    if (int err = post_recv(ep, mem::BufRef::adopt(b, 0, cfg_.recv_buffer_size))) {
      if (announce) fail(ep, err, "ibv_post_recv");
      return err;
    }
    if (announce) ep.credits.reposted();
  }
  return 0;
}

int RdmaModule::post_send(Endpoint& ep, std::span<ibv_sge> sges, FragmentHeader h, PushRequest* req) {
  uint32_t slot = ep.send_free.back();
  ibv_send_wr wr{};
  wr.wr_id = wr_id(kSend, slot);
  wr.sg_list = sges.empty() ? nullptr : sges.data();
  wr.num_sge = static_cast<int>(sges.size());
  wr.opcode = IBV_WR_SEND_WITH_IMM;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.imm_data = htonl(h.encode());
  ibv_send_wr* bad = nullptr;
  if (int rc = ibv_post_send(ep.qp, &wr, &bad)) return rc;
  ep.send_free.pop_back();
  ep.send_slots[slot] = SendSlot{req, h.end};
  ++ep.sq_outstanding;
  return 0;
}

void RdmaModule::try_send(Endpoint& ep) {
  if (ep.state != State::Established || !ep.qp) return;
  uint32_t max_pieces = std::min<uint32_t>(FragmentCursor::kMaxPieces, ep.dev->max_sge);
  while (!ep.txq.empty() && ep.credits.can_send_data() && ep.sq_outstanding < ep.sq_depth) {
    PushRequest& r = *ep.txq.front();
    std::array<FragmentPiece, FragmentCursor::kMaxPieces> pieces;
    std::array<ibv_sge, FragmentCursor::kMaxPieces> sges{};
    std::size_t bytes = 0;
    bool last = false;
    std::size_t n = r.cursor.next(ep.frag_size, std::span(pieces.data(), max_pieces), &bytes, &last);
    for (std::size_t i = 0; i < n; ++i) {
      const SgaSegment& seg = r.sga.segs[pieces[i].segment];
      sges[i].addr = reinterpret_cast<uintptr_t>(seg.buf) + pieces[i].offset;
      sges[i].length = pieces[i].len;
      sges[i].lkey = r.lkeys[pieces[i].segment];
    }
    FragmentHeader h{last, false, 0};
    h.credits = ep.credits.spend_on_data();
    if (int err = post_send(ep, std::span(sges.data(), n), h, &r)) {
      fail(ep, err, "ibv_post_send");
      return;
    }
    if (last) ep.txq.pop_front();
  }
  if (ep.credits.wants_update() && ep.sq_outstanding < ep.sq_depth) {
    FragmentHeader h{false, true, 0};
    h.credits = ep.credits.spend_on_update();
    if (int err = post_send(ep, {}, h, nullptr)) fail(ep, err, "ibv_post_send (credit update)");
  }
}

int RdmaModule::prepare_push(Endpoint& ep, PushRequest& req) {
  // Every segment must lie inside a block we can register; otherwise (an sga built by hand, or a
  // pointer moved past its block) the message is copied into one fresh block.
  const std::vector<mem::BufRef>* blocks = host_->sgas().segments(req.sga);
  bool direct = blocks && blocks->size() == req.sga.numsegs;
  for (uint32_t i = 0; direct && i < req.sga.numsegs; ++i) {
    const SgaSegment& s = req.sga.segs[i];
    if (s.len == 0) continue;
    mem::Block* b = (*blocks)[i].block();
    auto* p = static_cast<std::byte*>(s.buf);
    direct = b && p >= b->data && p + s.len <= b->data + b->capacity;
  }
  if (direct) {
    for (uint32_t i = 0; i < req.sga.numsegs; ++i) {
      req.pins[i] = (*blocks)[i];
      const SgaSegment& s = req.sga.segs[i];
      if (s.len == 0) continue;
      int err = 0;
      if (!ep.dev->memory->lkey(req.pins[i].block(), s.buf, s.len, &req.lkeys[i], &err)) return err;
    }
  } else {
    std::size_t total = req.sga.length();
    mem::Block* b = host_->allocator().allocate(total);
    if (!b) return ENOMEM;
    mem::BufRef copy = mem::BufRef::adopt(b, 0, total);
    std::size_t off = 0;
    for (uint32_t i = 0; i < req.sga.numsegs; ++i) {
      if (req.sga.segs[i].len == 0) continue;
      std::memcpy(copy.data() + off, req.sga.segs[i].buf, req.sga.segs[i].len);
      off += req.sga.segs[i].len;
    }
    Sga one;
    one.numsegs = 1;
    one.segs[0] = SgaSegment{copy.data(), static_cast<uint32_t>(total)};
    req.sga = one;
    int err = 0;
    if (!ep.dev->memory->lkey(copy.block(), copy.data(), total, &req.lkeys[0], &err)) return err;
    req.pins[0] = std::move(copy);
  }
  std::array<uint32_t, kSgaMaxSegments> lens{};
  for (uint32_t i = 0; i < req.sga.numsegs; ++i) lens[i] = req.sga.segs[i].len;
  req.cursor = FragmentCursor(std::span<const uint32_t>(lens.data(), req.sga.numsegs));
  return 0;
}

int RdmaModule::deliver(Endpoint& ep, Completion& done) {
  std::size_t count = 0;
  std::size_t total = 0;
  for (const Fragment& f : ep.rx) {
    ++count;
    total += f.buf.size();
    if (f.end) break;
  }
  std::array<mem::BufRef, kSgaMaxSegments> segs;
  std::size_t nsegs = 0;
  if (count <= kSgaMaxSegments) {
    // Zero copy: the receive buffers themselves become the application's sga.
    for (std::size_t i = 0; i < count; ++i) {
      segs[nsegs++] = std::move(ep.rx.front().buf);
      ep.rx.pop_front();
    }
  } else {
    // More fragments than an sga has segments: gather them into one block.
    mem::Block* b = host_->allocator().allocate(total);
    if (!b) return ENOMEM;
    segs[0] = mem::BufRef::adopt(b, 0, total);
    nsegs = 1;
    std::size_t off = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const mem::BufRef& f = ep.rx.front().buf;
      std::memcpy(segs[0].data() + off, f.data(), f.size());
      off += f.size();
      ep.rx.pop_front();
    }
  }
  --ep.rx_messages;
  Result<Sga> sga = host_->sgas().adopt(std::span<mem::BufRef>(segs.data(), nsegs));
  if (!sga) return sga.error();
  done.pop_done(*sga);
  return 0;
}

}  // namespace demi::rdma
