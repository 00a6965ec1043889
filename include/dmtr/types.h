/* dmtr types: queue tokens, scatter-gather arrays and results. C99 and C++. */
#ifndef DMTR_TYPES_H
#define DMTR_TYPES_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMTR_SGARRAY_MAXSIZE 16

/* One operation: returned by push, pop, accept and connect; completed by the wait calls. */
typedef uint64_t dmtr_qtoken_t;

typedef struct dmtr_sgaseg {
  void *sgaseg_buf;
  uint32_t sgaseg_len;
} dmtr_sgaseg_t;

/* A scatter-gather array. sga_buf is an opaque handle naming the allocation: leave it alone.
 * sga_addr holds the source address of a popped datagram. */
typedef struct dmtr_sgarray {
  void *sga_buf;
  uint32_t sga_numsegs;
  dmtr_sgaseg_t sga_segs[DMTR_SGARRAY_MAXSIZE];
  struct sockaddr_in sga_addr;
} dmtr_sgarray_t;

typedef enum dmtr_opcode {
  DMTR_OPC_INVALID = 0,
  DMTR_OPC_PUSH,
  DMTR_OPC_POP,
  DMTR_OPC_ACCEPT,
  DMTR_OPC_CONNECT,
  DMTR_OPC_CLOSE,
  DMTR_OPC_FAILED
} dmtr_opcode_t;

typedef struct dmtr_accept_result {
  int qd;
  struct sockaddr_in addr;
} dmtr_accept_result_t;

/* What a completed operation hands back. qr_ret is 0 or an errno; a failed operation has
 * qr_opcode DMTR_OPC_FAILED. */
typedef struct dmtr_qresult {
  dmtr_opcode_t qr_opcode;
  int qr_qd;
  dmtr_qtoken_t qr_qt;
  int qr_ret;
  union {
    dmtr_sgarray_t sga;
    dmtr_accept_result_t ares;
  } qr_value;
} dmtr_qresult_t;

#ifdef __cplusplus
}
#endif

#endif /* DMTR_TYPES_H */
