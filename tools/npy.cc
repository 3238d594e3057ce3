#include "tools/npy.h"

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

namespace kiln::tools {

Status ReadNpy(const std::string& path, runtime::HostTensor* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(path + ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    return Status::InvalidArgument(path + ": not a .npy file (bad magic at offset 0)");
  const int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Status::InvalidArgument(path + ": truncated header");
    uint32_t n;
    std::memcpy(&n, bytes.data() + 8, 4);
    header_len = n;
    header_start = 12;
  } else {
    return Status::InvalidArgument(path + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_start + header_len > bytes.size()) return Status::InvalidArgument(path + ": truncated header");
  const std::string header = bytes.substr(header_start, header_len);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([^']*)'")) || m[1] != "<f4")
    return Status::InvalidArgument(path + ": only little-endian float32 ('<f4') arrays are supported");
  if (std::regex_search(header, m, std::regex("'fortran_order':\\s*True")))
    return Status::InvalidArgument(path + ": Fortran-ordered arrays are not supported");
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)")))
    return Status::InvalidArgument(path + ": header has no shape");
  ops::Shape shape;
  std::stringstream dims(m[1].str());
  std::string dim;
  while (std::getline(dims, dim, ',')) {
    if (dim.find_first_not_of(" ") == std::string::npos) continue;
    shape.push_back(std::stoll(dim));
  }
  const size_t data_start = header_start + header_len;
  const size_t need = static_cast<size_t>(ops::NumElements(shape)) * 4;
  if (bytes.size() - data_start != need)
    return Status::InvalidArgument(path + ": data holds " + std::to_string(bytes.size() - data_start) +
                         " bytes, shape " + ops::ShapeToString(shape) + " needs " + std::to_string(need));
  out->shape = shape;
  out->dtype = ops::DType::kF32;
  out->bytes.assign(bytes.begin() + data_start, bytes.end());
  return Status::Ok();
}

Status WriteNpy(const std::string& path, const runtime::HostTensor& tensor) {
  if (tensor.dtype != ops::DType::kF32) return Status::InvalidArgument(path + ": only float32 tensors can be written");
  std::string shape;
  for (int64_t d : tensor.shape) shape += std::to_string(d) + ",";
  if (tensor.shape.size() > 1) shape.pop_back();
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Pad so the data starts on a 64-byte boundary, as NumPy does.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) return Status::InvalidArgument(path + ": cannot write");
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.put(static_cast<char>(len & 0xff));
  out.put(static_cast<char>(len >> 8));
  out << header;
  out.write(reinterpret_cast<const char*>(tensor.bytes.data()), static_cast<std::streamsize>(tensor.bytes.size()));
  return out ? Status::Ok() : Status::InvalidArgument(path + ": write failed");
}

}  // namespace kiln::tools
