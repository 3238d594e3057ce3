// Checks Kiln's copy of the PT2 archive names (pt2_archive_spec.h) against the header torch ships.
#include "compiler/pt2/pt2_archive_spec.h"

#include <torch/csrc/export/pt2_archive_constants.h>

#include "gtest/gtest.h"

namespace kiln::compiler {
namespace {

namespace torch_spec = ::torch::_export::archive_spec;

static_assert(pt2_spec::kArchiveFormatPath == torch_spec::ARCHIVE_FORMAT_PATH);
static_assert(pt2_spec::kArchiveFormatValue == torch_spec::ARCHIVE_FORMAT_VALUE);
static_assert(pt2_spec::kArchiveVersionPath == torch_spec::ARCHIVE_VERSION_PATH);
static_assert(pt2_spec::kModelsFilenameFormat == torch_spec::MODELS_FILENAME_FORMAT);
static_assert(pt2_spec::kWeightsDir == torch_spec::WEIGHTS_DIR);
static_assert(pt2_spec::kWeightsConfigFilenameFormat == torch_spec::WEIGHTS_CONFIG_FILENAME_FORMAT);
static_assert(pt2_spec::kConstantsDir == torch_spec::CONSTANTS_DIR);
static_assert(pt2_spec::kConstantsConfigFilenameFormat == torch_spec::CONSTANTS_CONFIG_FILENAME_FORMAT);

TEST(Pt2ArchiveSpecTest, TorchWritesTheSupportedArchiveVersion) {
  // Fails when the installed torch writes a newer archive layout than this reader supports.
  EXPECT_EQ(pt2_spec::kSupportedArchiveVersion, torch_spec::ARCHIVE_VERSION_VALUE);
}

}  // namespace
}  // namespace kiln::compiler
