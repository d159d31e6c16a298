#include "gnn/collective.h"

#define USE_C10D_GLOO 1  // Debian's libtorch is built with Gloo; the header hides it otherwise
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <exception>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace perfgraph::gnn {
namespace {

// The value of environment variable `name`, or nullptr.
const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

absl::StatusOr<int> IntFromEnv(const char* name, int min, int max) {
  const char* v = Env(name);
  if (v == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--distributed: environment variable ", name,
        " is not set (set RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, as torchrun does)"));
  }
  int value = 0;
  if (!absl::SimpleAtoi(v, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat("--distributed: ", name, "='", v,
                                                   "' is not an integer in [", min, ", ", max, "]"));
  }
  return value;
}

bool IsLoopback(const std::string& address) {
  return address == "localhost" || absl::StartsWith(address, "127.") || address == "::1";
}

}  // namespace

absl::StatusOr<DistributedOptions> DistributedOptionsFromEnvironment(absl::Duration timeout) {
  DistributedOptions o;
  o.timeout = timeout;
  absl::StatusOr<int> world = IntFromEnv("WORLD_SIZE", 1, kMaxWorldSize);
  if (!world.ok()) return world.status();
  absl::StatusOr<int> rank = IntFromEnv("RANK", 0, *world - 1);
  if (!rank.ok()) return rank.status();
  absl::StatusOr<int> port = IntFromEnv("MASTER_PORT", 1, 65535);
  if (!port.ok()) return port.status();
  const char* addr = Env("MASTER_ADDR");
  if (addr == nullptr) {
    return absl::InvalidArgumentError(
        "--distributed: environment variable MASTER_ADDR is not set (the host of rank 0)");
  }
  o.world_size = *world;
  o.rank = *rank;
  o.master_port = *port;
  o.master_addr = addr;
  if (const char* ifname = Env("GLOO_SOCKET_IFNAME")) o.interface = ifname;
  return o;
}

struct Collective::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

Collective::Collective(const DistributedOptions& options) : options_(options) {}
Collective::~Collective() = default;

namespace {

// Runs `fn`, turning what c10d / Gloo throw into a Status naming the rank and the operation.
absl::Status Guard(const DistributedOptions& o, absl::string_view what,
                   const std::function<void()>& fn) {
  std::string message;
  try {
    fn();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
    message = "unknown exception";
  }
  // c10d messages carry a C++ backtrace after the first line.
  message = message.substr(0, message.find('\n'));
  const std::string text = absl::StrCat("rank ", o.rank, " of ", o.world_size, " (", o.master_addr,
                                        ":", o.master_port, "): ", what, " failed: ", message);
  const bool timed_out = absl::StrContains(absl::AsciiStrToLower(message), "timed out") ||
                         absl::StrContains(absl::AsciiStrToLower(message), "timeout");
  return timed_out ? absl::DeadlineExceededError(absl::StrCat(
                         text, " (no answer within ", absl::FormatDuration(o.timeout),
                         ": another rank died, hangs or never started)"))
                   : absl::UnavailableError(
                         absl::StrCat(text, " (another rank probably died or was killed)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Collective>> Collective::Connect(const DistributedOptions& options) {
  if (options.world_size < 2 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("Collective::Connect: rank ", options.rank,
                                                   " of world size ", options.world_size));
  }
  std::unique_ptr<Collective> c(new Collective(options));
  c->impl_ = std::make_unique<Impl>();
  const auto timeout = std::chrono::milliseconds(absl::ToInt64Milliseconds(options.timeout));
  absl::Status status = Guard(options, "rendezvous", [&] {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(options.master_port);
    store_options.isServer = options.rank == 0;
    store_options.numWorkers = options.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    c->impl_->store = c10::make_intrusive<c10d::TCPStore>(options.master_addr, store_options);
    auto group_options = c10d::ProcessGroupGloo::Options::create(timeout);
    group_options->devices.push_back(
        !options.interface.empty()
            ? c10d::ProcessGroupGloo::createDeviceForInterface(options.interface)
        : IsLoopback(options.master_addr)
            ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
            : c10d::ProcessGroupGloo::createDefaultDevice());
    group_options->threads = 1;
    c->impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c->impl_->store, options.rank, options.world_size, group_options);
  });
  if (!status.ok()) return status;
  return c;
}

absl::Status Collective::AllReduceSum(torch::Tensor& tensor, const char* what) {
  return Guard(options_, what, [&] {
    std::vector<at::Tensor> tensors{tensor};
    impl_->group->allreduce(tensors)->wait();
  });
}

absl::Status Collective::Broadcast(torch::Tensor& tensor, const char* what) {
  return Guard(options_, what, [&] {
    std::vector<at::Tensor> tensors{tensor};
    impl_->group->broadcast(tensors)->wait();
  });
}

absl::Status Collective::BroadcastBytes(std::string& bytes, const char* what) {
  torch::Tensor size = torch::tensor({static_cast<int64_t>(bytes.size())}, torch::kInt64);
  if (absl::Status s = Broadcast(size, what); !s.ok()) return s;
  const int64_t n = size.item<int64_t>();
  torch::Tensor data = torch::zeros({std::max<int64_t>(n, 1)}, torch::kUInt8);
  if (rank() == 0) std::memcpy(data.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  if (absl::Status s = Broadcast(data, what); !s.ok()) return s;
  bytes.assign(reinterpret_cast<const char*>(data.data_ptr<uint8_t>()), static_cast<size_t>(n));
  return absl::OkStatus();
}

}  // namespace perfgraph::gnn
