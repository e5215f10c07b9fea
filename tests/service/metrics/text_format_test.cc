#include "service/metrics/text_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace liger::metrics {
namespace {

TEST(FormatValueTest, IntegersHaveNoExponentOrFraction) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-0.0), "0");
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(-7), "-7");
  EXPECT_EQ(FormatValue(1e6), "1000000");
  EXPECT_EQ(FormatValue(123456789012345.0), "123456789012345");
}

TEST(FormatValueTest, SpecialValuesUsePrometheusSpelling) {
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(FormatValueTest, FractionsUseTheShortestExactForm) {
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
  EXPECT_EQ(FormatValue(1e-05), "1e-05");
  EXPECT_EQ(FormatValue(1.5e300), "1.5e+300");
}

TEST(FormatValueTest, ReadsBackToTheSameDouble) {
  for (double v : {0.1 + 0.2, 1.0 / 3.0, 6.02214076e23, 4.9e-324, 1e16, -123.456,
                   std::numeric_limits<double>::max()}) {
    const std::string text = FormatValue(v);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), v) << text;
  }
}

TEST(EscapeTest, HelpEscapesBackslashAndNewlineOnly) {
  EXPECT_EQ(EscapeHelp("a\\b\nc\"d"), "a\\\\b\\nc\"d");
  EXPECT_EQ(EscapeHelp("plain"), "plain");
}

TEST(EscapeTest, LabelValueAlsoEscapesQuotes) {
  EXPECT_EQ(EscapeLabelValue("a\\b\nc\"d"), "a\\\\b\\nc\\\"d");
  EXPECT_EQ(EscapeLabelValue("caf\xc3\xa9"), "caf\xc3\xa9");
}

TEST(FormatLabelsTest, JoinsNamesAndEscapedValues) {
  EXPECT_EQ(FormatLabels({}, {}), "");
  EXPECT_EQ(FormatLabels({"method", "code"}, {"Generate", "say \"hi\""}),
            "method=\"Generate\",code=\"say \\\"hi\\\"\"");
}

TEST(AppendSampleTest, WritesBracesOnlyWithLabels) {
  std::string out;
  AppendSample("x_total", "", 2, &out);
  AppendSample("x_total", "a=\"b\"", 0.5, &out);
  EXPECT_EQ(out, "x_total 2\nx_total{a=\"b\"} 0.5\n");
}

}  // namespace
}  // namespace liger::metrics
