// The rdma module without a device: argument checks and a clear ENODEV. On a host that has an
// RDMA device the ENODEV tests skip (rdma_device_test covers that host).
#include <gtest/gtest.h>
#include <rdma/rdma_cma.h>
#include <sys/socket.h>

#include <cerrno>

#include <demi/libos.h>
#include <demi/rdma.h>

namespace demi {
namespace {

bool host_has_rdma_device() {
  int n = 0;
  ibv_context** list = rdma_get_devices(&n);
  if (list) rdma_free_devices(list);
  return list && n > 0;
}

TEST(RdmaModule, NameAndKind) {
  auto m = make_rdma_module();
  EXPECT_EQ(m->name(), "rdma");
  EXPECT_EQ(m->kind(), ModuleKind::Network);
  EXPECT_EQ(m->wait_fd(), -1);  // nothing until attached
}

TEST(RdmaModule, InstallWithoutADeviceIsENODEV) {
  if (host_has_rdma_device()) GTEST_SKIP() << "this host has an RDMA device";
  LibOS libos;
  EXPECT_EQ(libos.install(make_rdma_module()), ENODEV);
  EXPECT_EQ(libos.module("rdma"), nullptr);
  // Nothing was installed: a socket on it names the missing module.
  EXPECT_FALSE(libos.socket(AF_INET, SOCK_STREAM, 0, "rdma").ok());
}

TEST(RdmaModule, UnattachedSocketIsENODEV) {
  auto m = make_rdma_module();
  EXPECT_EQ(m->socket(AF_INET, SOCK_STREAM, 0).error(), ENODEV);
}

TEST(RdmaModule, SocketArgumentsAreCheckedFirst) {
  auto m = make_rdma_module();
  EXPECT_EQ(m->socket(AF_INET6, SOCK_STREAM, 0).error(), EAFNOSUPPORT);
  EXPECT_EQ(m->socket(AF_UNIX, SOCK_STREAM, 0).error(), EAFNOSUPPORT);
  EXPECT_EQ(m->socket(AF_INET, SOCK_DGRAM, 0).error(), EPROTONOSUPPORT);
  EXPECT_EQ(m->socket(AF_INET, SOCK_STREAM, IPPROTO_UDP).error(), EPROTONOSUPPORT);
}

TEST(RdmaModule, QueuesThatDoNotExistAreEBADF) {
  auto m = make_rdma_module();
  sockaddr_in a{};
  a.sin_family = AF_INET;
  EXPECT_EQ(m->bind(0, reinterpret_cast<sockaddr*>(&a), sizeof a), EBADF);
  EXPECT_EQ(m->listen(3, 1), EBADF);
  EXPECT_EQ(m->close(0), EBADF);
  Sga sga;
  EXPECT_EQ(m->push(0, sga, Completion{}), EBADF);
  EXPECT_EQ(m->pop(0, 0, Completion{}), EBADF);
}

TEST(RdmaModule, DefaultConfigurationHasTheRdmaKeys) {
  Config c;
  EXPECT_EQ(c.get_int("rdma.recv_buffers"), 16);
  EXPECT_EQ(c.get_int("rdma.recv_buffer_size"), 262144);
  std::string why;
  EXPECT_EQ(c.set("rdma.recv_buffers", "2", &why), EINVAL) << "fewer than 4 buffers breaks the credit scheme";
  EXPECT_NE(why.find("rdma.recv_buffers"), std::string::npos);
}

}  // namespace
}  // namespace demi
