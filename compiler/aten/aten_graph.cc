#include "compiler/aten/aten_graph.h"

namespace kiln::compiler {

const char* TorchDTypeName(TorchDType t) {
  // Covers every ScalarType code of torch/_export/serde/schema.py, including the ones the enum does
  // not name (a TensorMeta may carry any code read from an archive).
  switch (static_cast<int>(t)) {
    case 0: return "unknown";
    case 1: return "uint8";
    case 2: return "int8";
    case 3: return "int16";
    case 4: return "int32";
    case 5: return "int64";
    case 6: return "float16";
    case 7: return "float32";
    case 8: return "float64";
    case 9: return "complex32";
    case 10: return "complex64";
    case 11: return "complex128";
    case 12: return "bool";
    case 13: return "bfloat16";
    case 28: return "uint16";
    case 29: return "float8_e4m3fn";
    case 30: return "float8_e5m2";
    case 31: return "float8_e4m3fnuz";
    case 32: return "float8_e5m2fnuz";
    case 33: return "float8_e8m0fnu";
    case 34: return "uint32";
    case 35: return "uint64";
    default: return "unknown";
  }
}

int64_t TorchDTypeSize(TorchDType t) {
  switch (t) {
    case TorchDType::kByte:
    case TorchDType::kChar:
    case TorchDType::kBool:
      return 1;
    case TorchDType::kShort:
    case TorchDType::kHalf:
    case TorchDType::kBFloat16:
      return 2;
    case TorchDType::kInt:
    case TorchDType::kFloat:
      return 4;
    case TorchDType::kLong:
    case TorchDType::kDouble:
    case TorchDType::kComplexFloat:
      return 8;
    case TorchDType::kComplexDouble:
      return 16;
    default:
      return 0;
  }
}

WeightBytes::WeightBytes(std::vector<uint8_t> bytes) {
  auto owned = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  data_ = owned->data();
  size_ = owned->size();
  owner_ = std::move(owned);
}

const Argument* AtenNode::Find(const std::string& arg_name) const {
  for (const NamedArgument& a : inputs) {
    if (a.name == arg_name) return &a.arg;
  }
  return nullptr;
}

const AtenNode* AtenGraph::FindProducer(const std::string& value) const {
  if (value.empty()) return nullptr;
  for (const AtenNode& n : nodes) {
    for (const std::string& o : n.outputs) {
      if (o == value) return &n;
    }
  }
  return nullptr;
}

}  // namespace kiln::compiler
