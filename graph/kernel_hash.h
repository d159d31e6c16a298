// The canonical hash of a kernel: the identity of a fused computation across programs, processes
// and machines (dataset records, identical-kernel caches of the passes, deduplicated measurements).
#ifndef PERFGRAPH_GRAPH_KERNEL_HASH_H_
#define PERFGRAPH_GRAPH_KERNEL_HASH_H_

#include <cstdint>

#include "graph/ir.h"

namespace perfgraph::graph {

// A 64-bit hash of the kernel's structure, stable across processes, builds and machines (it is
// stored in dataset files). It covers, in instruction order: the opcode (TpuGraphs id), the shape
// (element type name, dims, effective minor_to_major so an empty layout equals an explicit
// row-major one, memory space, tuple elements), the operand ids in operand order, every Attributes
// field except called_computations (computation names), plus the root id and the fusion kind. It
// does NOT cover instruction names, the kernel name or origin, so the same fused computation found
// in two programs hashes equal.
//
// Algorithm: the fields above are fed as a tagged, length-prefixed little-endian byte stream into
// 64-bit FNV-1a (Fowler/Noll/Vo, offset basis 0xcbf29ce484222325, prime 0x100000001b3, the
// published constants of http://www.isthe.com/chongo/tech/comp/fnv/). A result of 0 is mapped to 1
// so that 0 can mean "unset" in Record.kernel_hash.
uint64_t CanonicalKernelHash(const Kernel& kernel);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_KERNEL_HASH_H_
