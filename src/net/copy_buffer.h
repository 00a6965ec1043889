// Buffers for the stack's rare copies: a payload that is not in stack memory (an Sga the
// application built by hand) and too big for a header buffer, a reassembled datagram in more
// pieces than an Sga holds, an echo request in more pieces than a frame carries.
//
// Such a buffer may outlive the stack that made it: the application holds it as a popped Sga
// until it frees it, and a device may still be sending it. So its owner keeps no state and
// lives as long as the process: releasing a buffer only frees its memory.
#pragma once

#include <cstddef>

#include "mem/buffer.h"

namespace demi::net {

// A buffer of `size` bytes (length `size`), or an empty BufRef when memory is out.
mem::BufRef copy_buffer(std::size_t size);

}  // namespace demi::net
