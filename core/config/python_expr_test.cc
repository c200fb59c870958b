#include "core/config/python_expr.h"

#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace d2x::config::internal {
namespace {

using Status = LiteralResult::Status;

// repr() of literal_eval(text), or "<not literal>" / "<error: ...>".
std::string Lit(const std::string& text) {
  LiteralResult r = ParsePythonLiteral(text);
  switch (r.status) {
    case Status::kValue: return Repr(r.value, 1000);
    case Status::kNotLiteral: return "<not literal>";
    case Status::kError: return "<error: " + r.error + ">";
  }
  return "?";
}

TEST(PythonLiteralTest, Numbers) {
  EXPECT_EQ(Lit("0"), "0");
  EXPECT_EQ(Lit("42"), "42");
  EXPECT_EQ(Lit("-7"), "-7");
  EXPECT_EQ(Lit("+7"), "7");
  EXPECT_EQ(Lit("-(7)"), "-7");
  EXPECT_EQ(Lit("1_000"), "1000");
  EXPECT_EQ(Lit("0x1F"), "31");
  EXPECT_EQ(Lit("0o17"), "15");
  EXPECT_EQ(Lit("0b101"), "5");
  EXPECT_EQ(Lit("00"), "0");
  EXPECT_EQ(Lit("9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(Lit("-9223372036854775808"), "<error: integer literal '9223372036854775808' does not "
                                         "fit in 64 bits>");
  EXPECT_EQ(Lit("0.5"), "0.5");
  EXPECT_EQ(Lit(".5"), "0.5");
  EXPECT_EQ(Lit("5."), "5.0");
  EXPECT_EQ(Lit("1e5"), "100000.0");
  EXPECT_EQ(Lit("1E-5"), "1e-05");
  EXPECT_EQ(Lit("1.5e+3"), "1500.0");
  EXPECT_EQ(Lit("1_0.2_5"), "10.25");
  EXPECT_EQ(Lit("1e400"), "inf");
  EXPECT_EQ(Lit("-0.0"), "-0.0");
  EXPECT_EQ(Lit("  3"), "3");  // literal_eval strips leading spaces and tabs
  EXPECT_EQ(Lit("3  # comment"), "3");
  // Python rejects these: yacs keeps them as strings.
  EXPECT_EQ(Lit("007"), "<not literal>");
  EXPECT_EQ(Lit("1__0"), "<not literal>");
  EXPECT_EQ(Lit("1_"), "<not literal>");
  EXPECT_EQ(Lit("1e"), "<not literal>");
  EXPECT_EQ(Lit("0x"), "<not literal>");
  EXPECT_EQ(Lit("0b102"), "<not literal>");
  EXPECT_EQ(Lit("1abc"), "<not literal>");
  EXPECT_EQ(Lit("--1"), "<not literal>");
  EXPECT_EQ(Lit("1+2"), "<not literal>");
  EXPECT_EQ(Lit("2**3"), "<not literal>");
  EXPECT_EQ(Lit("inf"), "<not literal>");
  EXPECT_EQ(Lit("-True"), "<not literal>");
  // Valid literals a config cannot hold.
  EXPECT_EQ(Lit("1j"), "<error: complex numbers are not valid config values>");
  EXPECT_EQ(Lit("1+2j"), "<error: complex numbers are not valid config values>");
}

TEST(PythonLiteralTest, StringsAndConstants) {
  EXPECT_EQ(Lit("True"), "True");
  EXPECT_EQ(Lit("False"), "False");
  EXPECT_EQ(Lit("None"), "None");
  EXPECT_EQ(Lit("'abc'"), "'abc'");
  EXPECT_EQ(Lit("\"abc\""), "'abc'");
  EXPECT_EQ(Lit("'a' \"b\""), "'ab'");
  EXPECT_EQ(Lit("'tab\\there'"), "'tab\\there'");
  EXPECT_EQ(Lit("'\\x41\\101\\u00e9'"), "'AAé'");
  EXPECT_EQ(Lit("r'\\d+'"), "'\\\\d+'");
  EXPECT_EQ(Lit("'''multi\nline'''"), "'multi\\nline'");
  EXPECT_EQ(Lit("u'x'"), "'x'");
  EXPECT_EQ(Lit("b'x'"), "<error: bytes values are not valid config values>");
  EXPECT_EQ(Lit("f'x'"), "<not literal>");
  EXPECT_EQ(Lit("'unterminated"), "<not literal>");
  EXPECT_EQ(Lit("'a\nb'"), "<not literal>");
  EXPECT_EQ(Lit("res4"), "<not literal>");
  EXPECT_EQ(Lit("true"), "<not literal>");
  EXPECT_EQ(Lit("./output"), "<not literal>");
  EXPECT_EQ(Lit("detectron2://ImageNetPretrained/MSRA/R-50.pkl"), "<not literal>");
  EXPECT_EQ(Lit("build_resnet_fpn_backbone"), "<not literal>");
  EXPECT_EQ(Lit(""), "<not literal>");
  EXPECT_EQ(Lit("   "), "<not literal>");
  EXPECT_EQ(Lit("1\n2"), "<not literal>");
  EXPECT_EQ(Lit("__import__('os')"), "<not literal>");
}

TEST(PythonLiteralTest, Containers) {
  EXPECT_EQ(Lit("(800,)"), "(800,)");
  EXPECT_EQ(Lit("(640, 672, 704)"), "(640, 672, 704)");
  EXPECT_EQ(Lit("()"), "()");
  EXPECT_EQ(Lit("[]"), "[]");
  EXPECT_EQ(Lit("1, 2"), "(1, 2)");
  EXPECT_EQ(Lit("1,"), "(1,)");
  EXPECT_EQ(Lit("[1, 2,]"), "[1, 2]");
  EXPECT_EQ(Lit("[[32], [64]]"), "[[32], [64]]");
  EXPECT_EQ(Lit("((10.0, 10.0, 5.0, 5.0), (20.0, 20.0, 10.0, 10.0))"),
            "((10.0, 10.0, 5.0, 5.0), (20.0, 20.0, 10.0, 10.0))");
  EXPECT_EQ(Lit("[\n  1,\n  2\n]"), "[1, 2]");
  EXPECT_EQ(Lit("('coco_2017_train',)"), "('coco_2017_train',)");
  EXPECT_EQ(Lit("[True, None, 'a', -1.5]"), "[True, None, 'a', -1.5]");
  EXPECT_EQ(Lit("(1)"), "1");
  EXPECT_EQ(Lit("(,)"), "<not literal>");
  EXPECT_EQ(Lit("[1 2]"), "<not literal>");
  EXPECT_EQ(Lit("[1, 2"), "<not literal>");
  EXPECT_EQ(Lit("[x for x in [1]]"), "<not literal>");
  EXPECT_EQ(Lit("{1: 2}"), "<error: dict and set values are not valid config values>");
  EXPECT_EQ(Lit("{1, 2}"), "<error: dict and set values are not valid config values>");
  // Python's parser gives up on deep nesting (SyntaxError): yacs keeps the string.
  EXPECT_EQ(Lit(std::string(5000, '[') + std::string(5000, ']')), "<not literal>");
}

TEST(PythonEvalTest, RetinaNetAnchorSizes) {
  absl::StatusOr<Value> v = EvalPythonExpression(
      "[[x, x * 2**(1.0/3), x * 2**(2.0/3) ] for x in [32, 64, 128, 256, 512 ]]");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->kind, Value::Kind::kList);
  ASSERT_EQ(v->items.size(), 5u);
  for (size_t k = 0; k < 5; ++k) {
    const Value& row = v->items[k];
    ASSERT_EQ(row.items.size(), 3u);
    EXPECT_EQ(row.items[0].kind, Value::Kind::kInt);  // x stays an int, as in Python
    EXPECT_EQ(row.items[0].i, 32 << k);
    EXPECT_EQ(row.items[1].f, (32 << k) * std::pow(2.0, 1.0 / 3));
    EXPECT_EQ(row.items[2].f, (32 << k) * std::pow(2.0, 2.0 / 3));
  }
  // The values detectron2 dumped.
  EXPECT_EQ(FormatPythonFloat(v->items[0].items[1].f), "40.31747359663594");
  EXPECT_EQ(FormatPythonFloat(v->items[4].items[2].f), "812.7493386077181");
}

std::string Eval(const std::string& text) {
  absl::StatusOr<Value> v = EvalPythonExpression(text);
  return v.ok() ? Repr(*v, 1000) : "<error: " + std::string(v.status().message()) + ">";
}

TEST(PythonEvalTest, Arithmetic) {
  EXPECT_EQ(Eval("1 + 2 * 3"), "7");
  EXPECT_EQ(Eval("(1 + 2) * 3"), "9");
  EXPECT_EQ(Eval("-2**2"), "-4");
  EXPECT_EQ(Eval("2**-1"), "0.5");
  EXPECT_EQ(Eval("2**3**2"), "512");
  EXPECT_EQ(Eval("7 / 2"), "3.5");
  EXPECT_EQ(Eval("7 // 2"), "3");
  EXPECT_EQ(Eval("-7 // 2"), "-4");
  EXPECT_EQ(Eval("-7 % 3"), "2");
  EXPECT_EQ(Eval("7.5 // 2"), "3.0");
  EXPECT_EQ(Eval("-7.5 % 2"), "0.5");
  EXPECT_EQ(Eval("1.0 / 1000"), "0.001");
  EXPECT_EQ(Eval("~5"), "-6");
  EXPECT_EQ(Eval("True + 1"), "2");
  EXPECT_EQ(Eval("[1] * 3 + [2]"), "[1, 1, 1, 2]");
  EXPECT_EQ(Eval("'ab' * 2"), "'abab'");
  EXPECT_EQ(Eval("(1, 2) + (3,)"), "(1, 2, 3)");
  EXPECT_EQ(Eval("[x * y for x in [1, 2] for y in (10, 100)]"), "[10, 100, 20, 200]");
  EXPECT_EQ(Eval("[[i] for i in range(3)]"), "[[0], [1], [2]]");
  EXPECT_EQ(Eval("[i for i in range(10, 0, -3)]"), "[10, 7, 4, 1]");
  EXPECT_EQ(Eval("[2**(i/3) for i in range(2)]"), "[1.0, 1.2599210498948732]");
}

TEST(PythonEvalTest, ErrorsInsteadOfExecution) {
  EXPECT_EQ(Eval("__import__('os').system('rm -rf /')").substr(0, 7), "<error:");
  EXPECT_NE(Eval("open('/etc/passwd')").find("only range()"), std::string::npos);
  EXPECT_NE(Eval("y + 1").find("name 'y' is not defined"), std::string::npos);
  EXPECT_NE(Eval("x.real").find("not supported"), std::string::npos);
  EXPECT_NE(Eval("[1][0]").find("not supported"), std::string::npos);
  EXPECT_NE(Eval("lambda: 1").find("unsupported"), std::string::npos);
  EXPECT_NE(Eval("1 if True else 2").find("unsupported"), std::string::npos);
  EXPECT_NE(Eval("1 < 2").find("unsupported"), std::string::npos);
  EXPECT_NE(Eval("[x for x in [1] if x]").find("unsupported"), std::string::npos);
  EXPECT_NE(Eval("(x for x in [1])").find("not supported"), std::string::npos);
  EXPECT_NE(Eval("1 / 0").find("division by zero"), std::string::npos);
  EXPECT_NE(Eval("1 // 0").find("division by zero"), std::string::npos);
  EXPECT_NE(Eval("0.0 ** -1").find("negative power"), std::string::npos);
  EXPECT_NE(Eval("(-8) ** (1/3)").find("complex"), std::string::npos);
  EXPECT_NE(Eval("2 ** 64").find("overflow"), std::string::npos);
  EXPECT_NE(Eval("9223372036854775807 + 1").find("overflow"), std::string::npos);
  EXPECT_NE(Eval("[0] * 10**9").find("too large"), std::string::npos);
  EXPECT_NE(Eval("[i for i in range(10**9)]").find("too large"), std::string::npos);
  EXPECT_NE(Eval("[[i for i in range(1000)] for j in range(1000)]").find("too large"),
            std::string::npos);
  EXPECT_NE(Eval("'a' + 1").find("unsupported operand"), std::string::npos);
  EXPECT_NE(Eval("{1: 2}").find("dict"), std::string::npos);
  EXPECT_NE(Eval("").find("empty"), std::string::npos);
  EXPECT_NE(Eval("1j").find("complex"), std::string::npos);
  EXPECT_NE(Eval(std::string(300, '(') + "1" + std::string(300, ')')).find("too deeply"),
            std::string::npos);
  EXPECT_NE(Eval(std::string(300, '-') + "1").find("too deeply"), std::string::npos);
}

TEST(FormatPythonFloatTest, MatchesPythonRepr) {
  EXPECT_EQ(FormatPythonFloat(0.001), "0.001");
  EXPECT_EQ(FormatPythonFloat(0.0001), "0.0001");
  EXPECT_EQ(FormatPythonFloat(0.00001), "1e-05");
  EXPECT_EQ(FormatPythonFloat(0.1), "0.1");
  EXPECT_EQ(FormatPythonFloat(1.0), "1.0");
  EXPECT_EQ(FormatPythonFloat(100.0), "100.0");
  EXPECT_EQ(FormatPythonFloat(103.53), "103.53");
  EXPECT_EQ(FormatPythonFloat(1e15), "1000000000000000.0");
  EXPECT_EQ(FormatPythonFloat(1e16), "1e+16");
  EXPECT_EQ(FormatPythonFloat(1.5e16), "1.5e+16");
  EXPECT_EQ(FormatPythonFloat(123456789.125), "123456789.125");
  EXPECT_EQ(FormatPythonFloat(-2.5), "-2.5");
  EXPECT_EQ(FormatPythonFloat(-0.0), "-0.0");
  EXPECT_EQ(FormatPythonFloat(0.0), "0.0");
  EXPECT_EQ(FormatPythonFloat(5e-324), "5e-324");
  EXPECT_EQ(FormatPythonFloat(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(FormatPythonFloat(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(FormatPythonFloat(std::nan("")), "nan");
}

}  // namespace
}  // namespace d2x::config::internal
