#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "tools/metrics.h"
#include "tools/npy.h"

namespace kiln::tools {
namespace {

TEST(Metrics, PccKnownValues) {
  std::vector<float> x = {1, 2, 3, 4, 5}, lin = {3, 5, 7, 9, 11}, neg = {-1, -2, -3, -4, -5};
  EXPECT_NEAR(Pcc(x.data(), lin.data(), 5), 1.0, 1e-12);
  EXPECT_NEAR(Pcc(x.data(), neg.data(), 5), -1.0, 1e-12);
  std::vector<float> y = {2, 1, 4, 3, 5};
  EXPECT_NEAR(Pcc(x.data(), y.data(), 5), 0.8, 1e-12);
  std::vector<float> c1 = {2, 2, 2}, c2 = {2, 2, 2}, c3 = {3, 3, 3};
  EXPECT_EQ(Pcc(c1.data(), c2.data(), 3), 1.0);
  EXPECT_EQ(Pcc(c1.data(), c3.data(), 3), 0.0);
  EXPECT_EQ(Pcc(c1.data(), x.data(), 3), 0.0);
  std::vector<float> nan = {1, std::numeric_limits<float>::quiet_NaN(), 3};
  EXPECT_TRUE(std::isnan(Pcc(x.data(), nan.data(), 3)));
}

TEST(Metrics, ErrorsAndAllClose) {
  std::vector<float> a = {1.0f, 2.0f, 3.0f}, b = {1.0f, 2.001f, 3.0f};
  EXPECT_NEAR(MaxAbsError(a.data(), b.data(), 3), 0.001, 1e-6);
  EXPECT_TRUE(AllClose(a.data(), b.data(), 3, 1e-3, 0.0));
  EXPECT_FALSE(AllClose(a.data(), b.data(), 3, 1e-4, 0.0));
}

TEST(Npy, RoundTripAndErrors) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/t.npy";
  runtime::HostTensor t = runtime::HostTensor::FromFloats({2, 3}, {1, 2, 3, 4, 5, 6});
  ASSERT_TRUE(WriteNpy(path, t).ok());
  runtime::HostTensor back;
  ASSERT_TRUE(ReadNpy(path, &back).ok());
  EXPECT_EQ(back.shape, (ops::Shape{2, 3}));
  EXPECT_EQ(back.bytes, t.bytes);
  {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ((bytes.find('\n') + 1) % 64, 0u) << "data must start 64-byte aligned";
    std::ofstream out(path, std::ios::binary);
    out << bytes.substr(0, bytes.size() - 4);  // truncate the data
  }
  Status s = ReadNpy(path, &back);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("data holds 20 bytes"), std::string::npos) << s.message();
  EXPECT_FALSE(ReadNpy("/nonexistent.npy", &back).ok());
}

}  // namespace
}  // namespace kiln::tools
