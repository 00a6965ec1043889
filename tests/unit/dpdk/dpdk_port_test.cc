#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "mem/allocator.h"
#include "runtime/dpdk/dpdk_port.h"
#include "runtime/dpdk/eal.h"
#include "runtime/dpdk/external_memory.h"

using namespace demi;
using namespace demi::runtime;

namespace {

std::string socket_path() { return "/tmp/demi-dpdk-test-" + std::to_string(getpid()) + ".sock"; }

// Both ports live in this process: the server's vdev is given to the EAL with the first
// port's configuration, the client's through the EAL arguments.
Config port_config(bool server) {
  Config c;
  std::string sock = socket_path();
  std::string server_spec = "net_memif0,role=server,id=0,socket=" + sock + ",socket-abstract=no";
  std::string client_spec = "net_memif1,role=client,id=0,socket=" + sock + ",socket-abstract=no";
  EXPECT_EQ(c.set("dpdk.eal_args", "[--no-pci, --no-huge, -m, '256', '--vdev=" + client_spec + "']"), 0);
  EXPECT_EQ(c.set("dpdk.port", server ? server_spec : client_spec), 0);
  EXPECT_EQ(c.set("dpdk.mbufs", "2047"), 0);
  EXPECT_EQ(c.set("dpdk.link_wait_ms", "0"), 0);
  return c;
}

struct Ports {
  std::unique_ptr<dpdk::DpdkPort> server, client;
};

Ports& ports() {
  static Ports p = [] {
    Ports q;
    auto s = dpdk::DpdkPort::open(port_config(true));
    auto c = dpdk::DpdkPort::open(port_config(false));
    if (s) q.server = std::move(*s);
    if (c) q.client = std::move(*c);
    return q;
  }();
  return p;
}

// Both ports live in this process, so neither can answer the other's leave (DpdkPort's memif
// handshake): before the EAL goes, the client closes first (memif's interrupt thread then
// disconnects the server), and the server closes once its link is down and that is done.
class ClosePortsInOrder : public ::testing::Environment {
 public:
  void TearDown() override {
    Ports& p = ports();
    p.client.reset();
    if (!p.server) return;
    p.server->wait_link_down(std::chrono::seconds(5));
    p.server.reset();
  }
};
const auto* const close_ports_in_order = ::testing::AddGlobalTestEnvironment(new ClosePortsInOrder);

// Polls `rx` until a frame arrives (bounded).
RxFrame receive_one(Device& rx) {
  RxFrame f[1];
  for (int i = 0; i < 200000; ++i) {
    if (rx.receive(f) == 1) return std::move(f[0]);
    if (i % 1000 == 999) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return {};
}

}  // namespace

// memif frames longer than its default 2048-byte buffers need buffers that hold a whole frame:
// the device string given to the EAL gets bsize= (a power of two), unless it sets its own.
TEST(DpdkDeviceSpec, MemifBuffersHoldAWholeFrame) {
  auto spec = [](const std::string& port, int mtu) {
    Config c;
    EXPECT_EQ(c.set("dpdk.port", port), 0);
    EXPECT_EQ(c.set("dpdk.mtu", std::to_string(mtu)), 0);
    return dpdk::device_spec(c);
  };
  const std::string memif = "net_memif0,role=client,socket=/tmp/x.sock";
  EXPECT_EQ(spec(memif, 1500), memif);
  EXPECT_EQ(spec(memif, 2034), memif);  // 2048-byte frames still fit the default buffers
  EXPECT_EQ(spec(memif, 2035), memif + ",bsize=4096");
  EXPECT_EQ(spec(memif, 9000), memif + ",bsize=16384");
  EXPECT_EQ(spec(memif + ",bsize=32768", 9000), memif + ",bsize=32768");
  EXPECT_EQ(spec("net_tap0,iface=t0", 9000), "net_tap0,iface=t0");
  EXPECT_EQ(spec("0000:3b:00.0", 9000), "0000:3b:00.0");
  EXPECT_EQ(dpdk::memif_buffer_size(memif), 2048u);
  EXPECT_EQ(dpdk::memif_buffer_size(memif + ",bsize=4096,rsize=11"), 4096u);
  // Keys are whole items: the last one counts (as DPDK's drivers read them), and a key that
  // ends another's name, or a value that looks like a key, is not it.
  EXPECT_EQ(dpdk::memif_buffer_size("role=client,bsize=4096,bsize=8192"), 8192u);
  EXPECT_EQ(dpdk::memif_buffer_size("net_memif0,xbsize=4096"), 2048u);
  EXPECT_EQ(dpdk::devarg("net_memif0,socket=/tmp/role=client.sock", "role"), std::nullopt);
  EXPECT_EQ(dpdk::devarg("role=client,id=0", "role"), "client");
  EXPECT_EQ(spec(memif + ",bsize=1024", 9000), memif + ",bsize=1024");  // refused at open
}

TEST(DpdkPort, OpensBothMemifPortsAndLinksUp) {
  ASSERT_TRUE(ports().server) << "server port did not open";
  ASSERT_TRUE(ports().client) << "client port did not open";
  // memif connects asynchronously: wait for frames to pass.
  EXPECT_EQ(ports().server->info().mtu, 1500u);
}

// A frame whose payload is application memory, attached as external buffers (zero copy on our
// side), arrives byte-exact, and the application's block is released only once the port is done.
TEST(DpdkPort, ZeroCopyPayloadArrivesAndIsReleased) {
  ASSERT_TRUE(ports().server && ports().client);
  Device& tx = *ports().client;
  Device& rx = *ports().server;
  mem::HeapAllocator heap;
  for (std::size_t size : {1u, 100u, 1000u, 1400u}) {
    mem::Block* b = heap.allocate(size);
    ASSERT_NE(b, nullptr);
    for (std::size_t i = 0; i < size; ++i) b->data[i] = std::byte(i * 7 + size);
    // Link up takes a moment after start: retry the first frame until one gets through.
    RxFrame got;
    for (int attempt = 0; attempt < 50 && !got.data; ++attempt) {
      TxFrame f;
      f.head = tx.alloc_tx(64);
      ASSERT_TRUE(f.head);
      f.head.set_length(14);
      std::memset(f.head.data(), 0xff, 6);  // broadcast
      std::memset(f.head.data() + 6, 0x02, 6);
      f.head.data()[12] = std::byte{0x88};
      f.head.data()[13] = std::byte{0xb5};  // local experimental ethertype
      f.add_payload(mem::BufRef::share(b, 0, size));
      TxFrame frames[1] = {std::move(f)};
      // Before the link is up the ring takes nothing: the frame stays ours (and is freed here).
      EXPECT_LE(tx.transmit(frames), 1u);
      got = receive_one(rx);
    }
    ASSERT_TRUE(got.data) << "no frame of payload " << size;
    ASSERT_EQ(got.data.size(), 14 + size);
    for (std::size_t i = 0; i < size; ++i) ASSERT_EQ(got.data.data()[14 + i], std::byte(i * 7 + size)) << i;
    // memif copies on transmit: the application's block is back to our single reference.
    EXPECT_EQ(b->refs, 1u);
    mem::block_unref(b);
  }
  EXPECT_EQ(heap.stats().live_blocks, 0u);
}

// Every mbuf comes back to the pool once the stack drops its references.
TEST(DpdkPort, NoMbufLeaks) {
  ASSERT_TRUE(ports().server && ports().client);
  unsigned before = ports().client->free_mbufs();
  {
    mem::BufRef r = ports().client->alloc_tx(128);
    EXPECT_EQ(ports().client->free_mbufs(), before - 1);
  }
  EXPECT_EQ(ports().client->free_mbufs(), before);
}

// The application region: every size from 1 B to 64 MiB comes from memory registered with
// DPDK, any slice of it goes out as an external buffer, and exhaustion is ENOMEM-shaped (null).
TEST(DpdkExternalMemory, EverySizeIsSendableWithoutACopy) {
  ASSERT_TRUE(ports().server && ports().client);
  Config c = port_config(false);
  ASSERT_EQ(c.set("dpdk.memory_mb", "80"), 0);
  auto region = dpdk::ExternalMemory::create(c, ports().client->port_id());
  ASSERT_TRUE(region) << region.error();
  auto alloc = (*region)->make_allocator();
  Device& tx = *ports().client;
  Device& rx = *ports().server;
  for (std::size_t size : {std::size_t{1}, std::size_t{1024}, std::size_t{9 * 1024}, std::size_t{64 * 1024},
                           std::size_t{1 << 20}, std::size_t{64 << 20}}) {
    mem::Block* b = alloc->allocate(size);
    ASSERT_NE(b, nullptr) << size;
    EXPECT_TRUE(alloc->owns(b->data));
    for (std::size_t i = 0; i < size; ++i) b->data[i] = std::byte(i % 251);
    // Send the last (up to) 1400 bytes of the buffer: any offset of any block is sendable.
    std::size_t len = std::min<std::size_t>(size, 1400);
    std::size_t off = size - len;
    TxFrame f;
    f.head = tx.alloc_tx(64);
    f.head.set_length(14);
    std::memset(f.head.data(), 0xff, 12);
    f.head.data()[12] = std::byte{0x88};
    f.head.data()[13] = std::byte{0xb5};
    f.add_payload(mem::BufRef::share(b, off, len));
    TxFrame frames[1] = {std::move(f)};
    ASSERT_EQ(tx.transmit(frames), 1u);
    mem::block_unref(b);  // the application frees at once; the device's reference keeps it alive
    RxFrame got = receive_one(rx);
    ASSERT_TRUE(got.data) << size;
    ASSERT_EQ(got.data.size(), 14 + len);
    for (std::size_t i = 0; i < len; ++i) ASSERT_EQ(got.data.data()[14 + i], std::byte((off + i) % 251)) << i;
  }
  EXPECT_EQ(alloc->stats().live_blocks, 0u);
  EXPECT_EQ(alloc->allocate(std::size_t{200} << 20), nullptr);
}
