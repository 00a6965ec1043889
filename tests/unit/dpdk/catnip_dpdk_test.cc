// Catnip on DPDK through the LibOS, as dmtr_init builds it (install_catnip_dpdk): two LibOS
// instances in this process, joined by a pair of net_memif ports. Application memory comes from
// each port's registered region, so the pushes below send the application's buffers themselves.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include <demi/catnip.h>
#include <demi/libos.h>

#include "modules/catnip/catnip_module.h"
#include "runtime/dpdk/dpdk_port.h"

using namespace demi;
using namespace std::chrono_literals;

namespace {

std::string socket_path() { return "/tmp/demi-catnip-dpdk-test-" + std::to_string(getpid()) + ".sock"; }

Config host_config(bool server, const char* memory_mb = "64") {
  Config c;
  std::string sock = socket_path();
  std::string server_spec = "net_memif0,role=server,id=0,socket=" + sock + ",socket-abstract=no";
  std::string client_spec = "net_memif1,role=client,id=0,socket=" + sock + ",socket-abstract=no";
  // The EAL is initialised once, by the first port opened: it must know both devices.
  EXPECT_EQ(c.set("dpdk.eal_args", "[--no-pci, --no-huge, -m, '256', '--vdev=" + client_spec + "']"), 0);
  EXPECT_EQ(c.set("dpdk.port", server ? server_spec : client_spec), 0);
  EXPECT_EQ(c.set("dpdk.mbufs", "4095"), 0);
  EXPECT_EQ(c.set("dpdk.link_wait_ms", "0"), 0);
  EXPECT_EQ(c.set("dpdk.memory_mb", memory_mb), 0);
  EXPECT_EQ(c.set("dpdk.memory_hugepages", "false"), 0);
  EXPECT_EQ(c.set("catnip.ipv4.address", server ? "10.98.0.1" : "10.98.0.2"), 0);
  return c;
}

struct Hosts {
  std::unique_ptr<LibOS> server, client;
  int server_rc = -1, client_rc = -1;
};

Hosts& hosts() {
  static Hosts h = [] {
    Hosts x;
    // The server's region holds a 64 MiB push (the TCP test below sends from it).
    x.server = std::make_unique<LibOS>(LibOSOptions{host_config(true, "160"), nullptr});
    x.server_rc = install_catnip_dpdk(*x.server);
    x.client = std::make_unique<LibOS>(LibOSOptions{host_config(false), nullptr});
    x.client_rc = install_catnip_dpdk(*x.client);
    return x;
  }();
  return h;
}

// Both hosts live in this process, so neither port can answer the other's leave (DpdkPort's
// memif handshake): before the EAL goes, the client closes first (memif's interrupt thread then
// disconnects the server), and the server closes once its link is down and that is done.
class CloseHostsInOrder : public ::testing::Environment {
 public:
  void TearDown() override {
    Hosts& h = hosts();
    h.client.reset();
    if (!h.server) return;
    auto* catnip = dynamic_cast<catnip::CatnipModule*>(h.server->module("catnip"));
    auto* port = catnip ? dynamic_cast<runtime::dpdk::DpdkPort*>(&catnip->device()) : nullptr;
    if (port) port->wait_link_down(std::chrono::seconds(5));
    h.server.reset();
  }
};
const auto* const close_hosts_in_order = ::testing::AddGlobalTestEnvironment(new CloseHostsInOrder);

// Waits for qt on `waiter` while `other` runs too (both hosts live on this thread). Bounded.
int wait_both(LibOS& waiter, QToken qt, LibOS& other, QResult* out) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    other.poll_once();
    int rc = waiter.wait(qt, out, 0ns);
    if (rc != ETIMEDOUT || out->opcode != Opcode::Invalid) return rc;
  }
  return ETIMEDOUT;
}

sockaddr_in addr(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

uint8_t pattern(std::size_t size, std::size_t i) { return static_cast<uint8_t>((i * 131 + size) % 251); }

}  // namespace

TEST(CatnipDpdk, InstallsOnMemif) {
  ASSERT_EQ(hosts().server_rc, 0);
  ASSERT_EQ(hosts().client_rc, 0);
  ASSERT_NE(hosts().server->module("catnip"), nullptr);
}

// sgaalloc of 1 B, 1 KiB and 9 KiB (IPv4 fragments) pushed as UDP datagrams from application
// memory, freed as soon as the push completed, and received byte-exact.
TEST(CatnipDpdk, UdpDatagramsOfRegionMemoryArriveByteExact) {
  Hosts& h = hosts();
  ASSERT_EQ(h.server_rc, 0);
  ASSERT_EQ(h.client_rc, 0);
  auto sq = h.server->socket(AF_INET, SOCK_DGRAM, 0);
  auto cq = h.client->socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_TRUE(sq && cq);
  sockaddr_in to = addr("10.98.0.1", 9000);
  ASSERT_EQ(h.server->bind(*sq, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  for (std::size_t size : {std::size_t{1}, std::size_t{1024}, std::size_t{9 * 1024}}) {
    auto pop = h.server->pop(*sq);
    ASSERT_TRUE(pop);
    auto sga = h.client->sgaalloc(size);
    ASSERT_TRUE(sga) << size;
    auto* p = static_cast<uint8_t*>(sga->segs[0].buf);
    for (std::size_t i = 0; i < size; ++i) p[i] = pattern(size, i);
    QResult r;
    bool got = false;
    // The first datagram may wait for ARP and the memif link; resend until one gets through.
    for (int attempt = 0; attempt < 20 && !got; ++attempt) {
      auto push = h.client->pushto(*cq, *sga, reinterpret_cast<sockaddr*>(&to), sizeof to);
      ASSERT_TRUE(push);
      QResult pr;
      ASSERT_EQ(wait_both(*h.client, *push, *h.server, &pr), 0);
      auto deadline = std::chrono::steady_clock::now() + 300ms;
      while (!got && std::chrono::steady_clock::now() < deadline) {
        h.client->poll_once();
        int rc = h.server->wait(*pop, &r, 0ns);
        got = rc == 0 && r.opcode == Opcode::Pop;
      }
    }
    ASSERT_EQ(h.client->sgafree(*sga), 0);  // the push completed; the device may still hold it
    ASSERT_TRUE(got) << "no datagram of " << size << " bytes";
    ASSERT_EQ(r.sga.length(), size);
    std::size_t off = 0;
    for (uint32_t s = 0; s < r.sga.numsegs; ++s) {
      auto* q = static_cast<const uint8_t*>(r.sga.segs[s].buf);
      for (uint32_t i = 0; i < r.sga.segs[s].len; ++i, ++off) ASSERT_EQ(q[i], pattern(size, off)) << size << " " << off;
    }
    EXPECT_EQ(h.server->sgafree(r.sga), 0);
  }
  std::vector<CatnipCounter> counters = catnip_counters(*h.client);
  ASSERT_FALSE(counters.empty());
  EXPECT_EQ(counters[0].name, "device.rx_packets");
  uint64_t tx = 0;
  for (const CatnipCounter& c : counters)
    if (c.name == "device.tx_packets") tx = c.value;
  EXPECT_GE(tx, 3u);
  h.server->close(*sq);
  h.client->close(*cq);
}

// Region exhaustion is ENOMEM from sgaalloc, never a crash; the memory is usable again once freed.
TEST(CatnipDpdk, RegionExhaustionIsEnomem) {
  Hosts& h = hosts();
  ASSERT_EQ(h.client_rc, 0);
  auto too_big = h.client->sgaalloc(std::size_t{65} << 20);  // the region is 64 MiB
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error(), ENOMEM);
  std::vector<Sga> held;
  for (int i = 0; i < 1000; ++i) {
    auto s = h.client->sgaalloc(std::size_t{1} << 20);
    if (!s) {
      EXPECT_EQ(s.error(), ENOMEM);
      break;
    }
    held.push_back(*s);
  }
  EXPECT_GT(held.size(), 32u);
  EXPECT_LT(held.size(), 65u);
  for (const Sga& s : held) EXPECT_EQ(h.client->sgafree(s), 0);
  auto again = h.client->sgaalloc(std::size_t{32} << 20);
  ASSERT_TRUE(again);
  EXPECT_EQ(h.client->sgafree(*again), 0);
}

// TCP pushes of whole application buffers - 1 B to 64 MiB, each one sgaalloc from the region -
// go out without a copy (segments attach slices of the buffer to mbufs as external buffers),
// and the buffer is freed as soon as the push completes, while the device may still hold parts
// of it. The receiver gets every byte, in order.
TEST(CatnipDpdk, TcpPushesOfEverySizeArriveByteExact) {
  Hosts& h = hosts();
  ASSERT_EQ(h.server_rc, 0);
  ASSERT_EQ(h.client_rc, 0);
  auto lq = h.server->socket(AF_INET, SOCK_STREAM, 0);
  auto cq = h.client->socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_TRUE(lq && cq);
  sockaddr_in at = addr("10.98.0.1", 9100);
  ASSERT_EQ(h.server->bind(*lq, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  ASSERT_EQ(h.server->listen(*lq, 4), 0);
  auto aqt = h.server->accept(*lq);
  auto cqt = h.client->connect(*cq, reinterpret_cast<sockaddr*>(&at), sizeof at);
  ASSERT_TRUE(aqt && cqt);
  QResult ar, cr;
  ASSERT_EQ(wait_both(*h.client, *cqt, *h.server, &cr), 0);
  ASSERT_EQ(wait_both(*h.server, *aqt, *h.client, &ar), 0);
  const QDesc sq = ar.accept.qd;
  for (std::size_t size : {std::size_t{1}, std::size_t{1024}, std::size_t{9 * 1024}, std::size_t{64 * 1024},
                           std::size_t{1} << 20, std::size_t{64} << 20}) {
    auto sga = h.server->sgaalloc(size);
    ASSERT_TRUE(sga) << size;
    ASSERT_EQ(sga->numsegs, 1u);
    auto* p = static_cast<uint8_t*>(sga->segs[0].buf);
    for (std::size_t i = 0; i < size; ++i) p[i] = pattern(size, i);
    auto push = h.server->push(sq, *sga);
    ASSERT_TRUE(push);
    std::size_t got = 0;
    bool pushed = false;
    bool broken = false;
    std::optional<QToken> pop;
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while ((got < size || !pushed) && !broken && std::chrono::steady_clock::now() < deadline) {
      QResult r;
      h.server->poll_once();  // the sender runs even after its push completed: it sends the rest
      if (!pushed && h.server->wait(*push, &r, 0ns) == 0) {
        pushed = true;
        // The push is complete: the application's buffer is its own again, whatever the device
        // still holds (the region's block stays alive until the last mbuf lets go of it).
        ASSERT_EQ(h.server->sgafree(*sga), 0);
      }
      if (!pop) {
        auto qt = h.client->pop(*cq);
        ASSERT_TRUE(qt);
        pop = *qt;
      }
      int rc = h.client->wait(*pop, &r, 0ns);
      if (rc == ETIMEDOUT) continue;
      ASSERT_EQ(rc, 0);
      pop.reset();
      ASSERT_GT(r.sga.length(), 0u) << "end of stream after " << got << " of " << size;
      for (uint32_t k = 0; k < r.sga.numsegs && !broken; ++k) {
        auto* q = static_cast<const uint8_t*>(r.sga.segs[k].buf);
        for (uint32_t i = 0; i < r.sga.segs[k].len; ++i, ++got) {
          if (got >= size || q[i] != pattern(size, got)) {
            ADD_FAILURE() << "size " << size << ": byte " << got << " differs or is beyond the push";
            broken = true;
            break;
          }
        }
      }
      EXPECT_EQ(h.client->sgafree(r.sga), 0);
    }
    ASSERT_FALSE(broken);
    ASSERT_TRUE(pushed) << size;
    ASSERT_EQ(got, size) << "bytes received of a " << size << " B push";
    if (pop) {
      h.client->drop(*pop);
    }
  }
  // Full-sized segments went out as attachments of the application's buffers, not as copies.
  uint64_t attached = 0;
  for (const CatnipCounter& c : catnip_counters(*h.server))
    if (c.name == "device.tx_payload_attached") attached = c.value;
  EXPECT_GT(attached, (std::size_t{64} << 20) / 1460);
  h.server->close(sq);
  h.server->close(*lq);
  h.client->close(*cq);
}
