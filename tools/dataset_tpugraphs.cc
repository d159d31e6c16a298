#include "tools/dataset_tpugraphs.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "data/machine.h"
#include "data/npz.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "data/split.h"
#include "data/tpugraphs.h"
#include "gnn/batch.h"
#include "graph/atomic_file.h"
#include "graph/featurize.h"
#include "graph/status_macros.h"
#include "tiling/tile_config.h"

namespace perfgraph::tools {
namespace {

namespace fs = std::filesystem;

// 64-bit FNV-1a: stable across runs and machines (the kernel hash of an imported tile).
uint64_t Fnv1a(absl::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h == 0 ? 1 : h;  // Record.kernel_hash is never 0
}

// The sorted .npz files directly in `dir`.
std::vector<fs::path> NpzFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec) && e.path().extension() == ".npz") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Characters a program name may not carry into a file name or a split file.
std::string FileSafe(absl::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '/' || c == ' ' || c == '\t' || c == '\n') c = '-';
  }
  return out.empty() ? std::string("program") : out;
}

// One directory of tile files and the split part its programs go to.
struct Part {
  fs::path dir;
  std::string name;  // "train", "valid", "test", or "" for a flat directory
  data::SplitPart split_part = data::SplitPart::kTrain;
};

}  // namespace

absl::StatusOr<TpuGraphsExportSummary> ExportTpuGraphsTiles(const TpuGraphsExportOptions& options) {
  if (options.datasets.empty()) {
    return absl::InvalidArgumentError("dataset export: expected DATASET... OUT_DIR");
  }
  if (options.out_dir.empty()) return absl::InvalidArgumentError("dataset export: empty OUT_DIR");
  gnn::LoadSummary loaded;
  ASSIGN_OR_RETURN(std::vector<gnn::KernelExample> examples,
                   gnn::LoadExamples(options.datasets, &loaded));
  if (loaded.foreign_features.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("dataset export: the datasets hold ", loaded.foreign_features->ToString(),
                     " features, not perfgraph kernels; export writes perfgraph's own features"));
  }
  const fs::path out(options.out_dir);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("dataset export: cannot create '", options.out_dir, "': ", ec.message()));
  }
  if (!NpzFiles(out).empty()) {
    return absl::AlreadyExistsError(
        absl::StrCat("dataset export: '", options.out_dir,
                     "' already holds .npz files; export into a new or empty directory"));
  }
  TpuGraphsExportSummary summary;
  for (const gnn::KernelExample& ex : examples) {
    if (ex.task != gnn::Task::kTile) {
      ++summary.fusion_kernels;
      continue;
    }
    data::TpuGraphsTile tile;
    const graph::KernelTensors& t = ex.tensors;
    tile.num_nodes = t.num_nodes;
    tile.node_width = graph::kNumNodeFeatures;
    tile.config_width = tiling::kNumConfigFeatures;
    tile.node_feat = t.node_feat;
    tile.node_opcode = t.node_opcode;
    // TpuGraphs' edges: one per distinct (instruction, operand), [consumer, producer], sorted.
    std::set<std::pair<int64_t, int64_t>> edges;
    for (int e = 0; e < t.num_edges; ++e)
      edges.insert({t.edge_index[2 * e + 1], t.edge_index[2 * e]});
    for (const auto& [consumer, producer] : edges) {
      tile.edge_index.push_back(consumer);
      tile.edge_index.push_back(producer);
    }
    tile.num_edges = static_cast<int64_t>(edges.size());
    // The normaliser: the default config's runtime when measured OK, else the best OK runtime.
    const std::string default_text =
        ex.kernel != nullptr ? tiling::Default(*ex.kernel).ToString() : std::string();
    double normalizer = -1, best = std::numeric_limits<double>::infinity();
    for (int c = 0; c < ex.num_configs; ++c) {
      if (ex.timed_out[c]) continue;
      best = std::min(best, ex.runtime_ns[c]);
      if (ex.config_text[c] == default_text) normalizer = ex.runtime_ns[c];
    }
    if (normalizer > 0) {
      ++summary.default_normalized;
    } else {
      normalizer = best;
    }
    const int cw = tiling::kNumConfigFeatures;
    for (int c = 0; c < ex.num_configs; ++c) {
      if (ex.timed_out[c]) {
        ++summary.timeout_configs;
        continue;
      }
      tile.config_feat.insert(tile.config_feat.end(), ex.config_feat.begin() + c * cw,
                              ex.config_feat.begin() + (c + 1) * cw);
      // Sub-ns runtimes round up to 1 ns: int64 runtimes must stay > 0.
      tile.config_runtime.push_back(std::max(1.0, std::round(ex.runtime_ns[c])));
      tile.config_runtime_normalizers.push_back(std::max(1.0, std::round(normalizer)));
      ++tile.num_configs;
    }
    const std::string name = absl::StrFormat("%s_%016x.npz", FileSafe(ex.program), ex.kernel_hash);
    RETURN_IF_ERROR(data::WriteTpuGraphsTile((out / name).string(), tile));
    ++summary.files;
    summary.configs += tile.num_configs;
  }
  return summary;
}

absl::StatusOr<TpuGraphsImportSummary> ImportTpuGraphsTiles(const TpuGraphsImportOptions& options) {
  const fs::path root(options.dir);
  std::error_code ec;
  if (options.dir.empty() || !fs::is_directory(root, ec)) {
    return absl::NotFoundError(
        absl::StrCat("dataset import: --tpugraphs-tile '", options.dir, "' is not a directory"));
  }
  if (options.out.empty()) return absl::InvalidArgumentError("dataset import: --out is required");
  if (options.train_configs_per_tile < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset import: --train-configs-per-tile must be >= 0, got ",
                     options.train_configs_per_tile));
  }
  TpuGraphsImportSummary summary;
  // Flat directory, or a split root with train/ valid/ test/.
  std::vector<Part> parts;
  const bool split_root =
      fs::is_directory(root / "train", ec) || fs::is_directory(root / "valid", ec);
  if (split_root) {
    for (const auto& [name, part] :
         {std::pair<const char*, data::SplitPart>{"train", data::SplitPart::kTrain},
          {"valid", data::SplitPart::kTest},
          {"test", data::SplitPart::kTest}}) {
      if (!fs::is_directory(root / name, ec)) continue;
      parts.push_back({root / name, name, part});
    }
  } else {
    parts.push_back({root, "", data::SplitPart::kTrain});
  }
  // The files of each part; test/ without runtimes (TpuGraphs' own) is skipped.
  std::vector<std::pair<Part, std::vector<fs::path>>> work;
  for (const Part& part : parts) {
    std::vector<fs::path> files = NpzFiles(part.dir);
    if (files.empty()) continue;
    if (part.name == "test") {
      ASSIGN_OR_RETURN(auto arrays, data::ReadNpz(files[0].string()));
      if (!arrays.count("config_runtime")) {
        summary.notes.push_back(absl::StrCat(
            "skipped test/ (", files.size(),
            " files): its files have no config_runtime (TpuGraphs' test split ships without)"));
        continue;
      }
    }
    work.push_back({part, std::move(files)});
  }
  if (work.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("dataset import: no .npz file in '", options.dir,
                                                   "'", split_root ? " (train/, valid/)" : "",
                                                   "; expected TpuGraphs tile files"));
  }
  // Benchmarks in several directories get the directory in their name (disjoint split parts).
  std::map<std::string, std::set<std::string>> dirs_of_program;
  for (const auto& [part, files] : work) {
    for (const fs::path& f : files) {
      dirs_of_program[data::TpuGraphsProgramOfTileId(f.stem().string())].insert(part.name);
    }
  }
  std::set<std::string> renamed;
  auto program_of = [&](const std::string& tile_id, const Part& part) {
    const std::string program = FileSafe(data::TpuGraphsProgramOfTileId(tile_id));
    if (dirs_of_program[data::TpuGraphsProgramOfTileId(tile_id)].size() > 1) {
      renamed.insert(program);
      return absl::StrCat(program, "@", part.name);
    }
    return program;
  };
  std::optional<std::string> split_path;
  if (split_root) {
    std::string base = options.out;
    if (absl::EndsWith(base, ".pgd")) base.resize(base.size() - 4);
    split_path = base + ".split.txt";
    if (fs::exists(*split_path, ec)) {
      return absl::AlreadyExistsError(
          absl::StrCat("dataset import: the split file '", *split_path, "' already exists"));
    }
  }

  // Every file is validated while writing a temporary dataset, published only when all are good.
  ASSIGN_OR_RETURN(graph::NewFile out, graph::NewFile::Begin(options.out, "dataset import"));
  std::optional<data::RecordWriter> writer;
  std::string first_file;
  data::ForeignFeatureSchema schema;
  data::Split split;
  std::set<std::string> programs;
  for (const auto& [part, files] : work) {
    for (const fs::path& file : files) {
      ASSIGN_OR_RETURN(data::TpuGraphsTile tile, data::ReadTpuGraphsTile(file.string()));
      if (!writer.has_value()) {
        first_file = file.string();
        schema = {std::string(data::kTpuGraphsTileSchema), tile.node_width, tile.config_width};
        data::RecordWriterOptions writer_options;
        data::MachineFingerprint machine;
        machine.cpu_model = options.machine;
        writer_options.machine = machine;
        writer_options.writer = "perfgraph dataset import --tpugraphs-tile";
        writer_options.foreign_features = schema;
        ASSIGN_OR_RETURN(data::RecordWriter opened,
                         data::RecordWriter::Open(out.temp_path(), writer_options));
        writer.emplace(std::move(opened));
      } else if (tile.node_width != schema.num_node_features ||
                 tile.config_width != schema.num_config_features) {
        return absl::InvalidArgumentError(
            absl::StrCat("dataset import: '", file.string(), "' has ", tile.node_width,
                         " node and ", tile.config_width, " config features, '", first_file,
                         "' has ", schema.num_node_features, " and ", schema.num_config_features,
                         "; a dataset holds one feature schema"));
      }
      if (tile.num_configs < 2) {
        ++summary.single_config_tiles;
        continue;
      }
      const std::string tile_id = file.stem().string();
      const std::string program = program_of(tile_id, part);
      programs.insert(program);
      if (split_root) split.part_of[program] = part.split_part;
      const uint64_t hash =
          Fnv1a(absl::StrCat(data::kTpuGraphsTileSchema, "/", part.name, "/", tile_id));
      const std::vector<double> labels = data::TpuGraphsLabels(tile);
      const int64_t now = absl::ToUnixSeconds(absl::Now());
      // The configs imported: all, or a seeded sample of a train tile's (file order kept).
      std::vector<int64_t> kept(tile.num_configs);
      for (int64_t c = 0; c < tile.num_configs; ++c) kept[c] = c;
      const int64_t cap = options.train_configs_per_tile;
      if (part.split_part == data::SplitPart::kTrain && cap > 0 && tile.num_configs > cap) {
        std::mt19937_64 rng(options.seed ^ Fnv1a(tile_id));
        std::shuffle(kept.begin(), kept.end(), rng);
        kept.resize(cap);
        std::sort(kept.begin(), kept.end());
        summary.train_configs_dropped += tile.num_configs - cap;
      }
      bool first = true;
      for (int64_t c : kept) {
        data::Record record;
        record.set_program(program);
        record.mutable_kernel()->set_name(tile_id);
        record.mutable_config()->set_text(absl::StrCat("config ", c));
        record.add_runtime_ns(labels[c]);
        record.set_status(data::Record::MEASURE_STATUS_OK);
        record.set_feature_schema_version(graph::kFeatureSchemaVersion);
        record.set_kernel_hash(hash);
        record.set_task(data::Record::TASK_TILE);
        record.set_measured_unix_seconds(now);
        data::PrecomputedFeatures* p = record.mutable_precomputed();
        if (first) {  // the graph, once per kernel
          first = false;
          p->set_num_nodes(static_cast<int32_t>(tile.num_nodes));
          p->mutable_node_feat()->Assign(tile.node_feat.begin(), tile.node_feat.end());
          p->mutable_node_opcode()->Assign(tile.node_opcode.begin(), tile.node_opcode.end());
          for (int64_t e = 0; e < tile.num_edges;
               ++e) {  // [consumer, producer] -> (producer, consumer)
            p->add_edge_index(static_cast<int32_t>(tile.edge_index[2 * e + 1]));
            p->add_edge_index(static_cast<int32_t>(tile.edge_index[2 * e]));
          }
        }
        p->mutable_config_feat()->Assign(tile.config_feat.begin() + c * tile.config_width,
                                         tile.config_feat.begin() + (c + 1) * tile.config_width);
        p->set_config_index(static_cast<int32_t>(c));
        p->set_source_runtime(tile.config_runtime[c]);
        p->set_source_runtime_normalizer(tile.config_runtime_normalizers[c]);
        RETURN_IF_ERROR(writer->Append(record));
        ++summary.records;
      }
      ++summary.files;
    }
  }
  if (summary.files == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset import: every tile file in '", options.dir, "' has fewer than two configs (",
        summary.single_config_tiles, " files); nothing to rank"));
  }
  RETURN_IF_ERROR(writer->Close());
  if (split_path.has_value()) {
    ASSIGN_OR_RETURN(graph::NewFile split_file,
                     graph::NewFile::Begin(*split_path, "dataset import"));
    RETURN_IF_ERROR(graph::WriteFileAtomically(
        split_file.temp_path(),
        absl::StrCat("# TpuGraphs split of ", options.dir,
                     ": train/ -> train, valid/ (and test/) -> test (perfgraph dataset import)\n",
                     data::SplitToText(split)),
        "dataset import"));
    RETURN_IF_ERROR(out.Commit());
    RETURN_IF_ERROR(split_file.Commit());
  } else {
    RETURN_IF_ERROR(out.Commit());
  }
  summary.node_features = schema.num_node_features;
  summary.config_features = schema.num_config_features;
  summary.programs = static_cast<int64_t>(programs.size());
  summary.renamed_programs = static_cast<int64_t>(renamed.size());
  summary.split_file = split_path;
  return summary;
}

}  // namespace perfgraph::tools
