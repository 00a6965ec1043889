// The storage module: files as queues through io_uring.
//
//   open / open2 / creat   a file queue with its own offset (0, or the end with O_APPEND)
//   push                   writes the Sga at the queue's offset, which advances by its length;
//                          completes when the kernel has written it (with O_DSYNC or
//                          storage.durable, when it is on stable storage)
//   pop(max_len)           reads up to max_len (storage.read_size when 0) at the offset, which
//                          advances by what was read; end of file is a completed pop of length 0
//   lseek                  moves the queue's offset (SEEK_SET, SEEK_CUR, SEEK_END)
//
// Operations on one queue complete in the order they were issued, however the kernel finishes
// them. O_DIRECT is passed through: buffers and lengths must then be aligned
// (storage.direct_alignment), else the push or pop answers EINVAL.
#pragma once

#include <demi/module.h>

#include <memory>

namespace demi {

std::unique_ptr<Module> make_storage_module();

}  // namespace demi
