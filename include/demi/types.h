// The vocabulary of the queue API: queue descriptors, qtokens, scatter-gather arrays, results.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>

namespace demi {

using QDesc = int;          // queue descriptor: a small integer from the descriptor table
using QToken = uint64_t;    // one per operation, unique for the life of the process; 0 is never used

enum class Opcode : int { Invalid = 0, Push, Pop, Accept, Connect, Close, Failed };

const char* opcode_name(Opcode op);

inline constexpr uint32_t kSgaMaxSegments = 16;

struct SgaSegment {
  void* buf = nullptr;
  uint32_t len = 0;
};

// A scatter-gather array. `handle` is opaque: it names the allocation in the sga table, so that
// sgafree can tell a live array from a freed or foreign one.
struct Sga {
  uint64_t handle = 0;
  uint32_t numsegs = 0;
  SgaSegment segs[kSgaMaxSegments] = {};
  sockaddr_in addr = {};  // source address of a popped datagram; unused otherwise

  size_t length() const {
    size_t n = 0;
    for (uint32_t i = 0; i < numsegs && i < kSgaMaxSegments; ++i) n += segs[i].len;
    return n;
  }
};

struct AcceptResult {
  QDesc qd = -1;
  sockaddr_in addr = {};
};

// What a completed operation hands back. `ret` is 0 or an errno; on failure opcode is Failed.
struct QResult {
  Opcode opcode = Opcode::Invalid;
  QDesc qd = -1;
  QToken qt = 0;
  int ret = 0;
  Sga sga;              // Pop: the data (owned by the application, freed with sgafree)
  AcceptResult accept;  // Accept: the new queue and the peer's address
};

}  // namespace demi
