// Collective communication for data-parallel training (gnn/train.cc only: this header includes
// LibTorch). A thin layer over LibTorch's c10d: a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT
// (rank 0 serves it) and a ProcessGroupGloo (Debian's libtorch is built with Gloo; its headers come
// from libgloo-dev). Every call is collective: all ranks make the same calls in the same order.
// Every failure, a peer that died (connection reset), a peer that does not answer within
// DistributedOptions::timeout, a rendezvous nobody joins, comes back as a Status naming this rank
// and the operation, never as a hang or an exception.
#ifndef PERFGRAPH_GNN_COLLECTIVE_H_
#define PERFGRAPH_GNN_COLLECTIVE_H_

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gnn/train.h"

namespace perfgraph::gnn {

class Collective {
 public:
  // Joins the process group of `options` (world_size >= 2). Errors: kDeadlineExceeded when the
  // other ranks do not join within options.timeout; kUnavailable for a store or network failure
  // (both naming MASTER_ADDR:MASTER_PORT and this rank).
  static absl::StatusOr<std::unique_ptr<Collective>> Connect(const DistributedOptions& options);
  ~Collective();

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }

  // In place: every rank's `tensor` (float or double, contiguous, same shape on every rank) becomes
  // the element-wise sum over ranks.
  absl::Status AllReduceSum(torch::Tensor& tensor, const char* what);
  // In place: every rank's `tensor` becomes rank 0's (same shape and dtype on every rank).
  absl::Status Broadcast(torch::Tensor& tensor, const char* what);
  // Rank 0's `bytes` on every rank (any length; other ranks' input is replaced).
  absl::Status BroadcastBytes(std::string& bytes, const char* what);

 private:
  explicit Collective(const DistributedOptions& options);
  struct Impl;
  DistributedOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace perfgraph::gnn

#endif  // PERFGRAPH_GNN_COLLECTIVE_H_
