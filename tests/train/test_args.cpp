// key=value arguments: nearest-key suggestions, typed values with ranges, --help.
#include "data/args.h"
#include "data/errors.h"

#include <gtest/gtest.h>

namespace {

using mod::data::ArgError;
using mod::data::KeyValueArgs;

KeyValueArgs make_args() {
    KeyValueArgs args("prog", "A test program.");
    args.add("out", "", "output folder");
    args.add("images", "2000", "training scenes");
    args.add("image_size", "64", "side in pixels");
    return args;
}

std::string parse_error(std::vector<const char*> argv) {
    KeyValueArgs args = make_args();
    argv.insert(argv.begin(), "prog");
    try {
        args.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const ArgError& e) {
        return e.what();
    }
    return "";
}

TEST(Args, ParsesValuesAndKeepsDefaults) {
    KeyValueArgs args = make_args();
    const char* argv[] = {"prog", "out=/tmp/w", "images=12"};
    ASSERT_TRUE(args.parse(3, argv));
    EXPECT_EQ(args.get("out"), "/tmp/w");
    EXPECT_EQ(args.get_int("images"), 12);
    EXPECT_EQ(args.get_int("image_size"), 64);
}

TEST(Args, UnknownKeySuggestsTheNearest) {
    EXPECT_EQ(parse_error({"imags=3"}), "[prog] unknown key \"imags\"; did you mean \"images\"? (see --help)");
    EXPECT_EQ(parse_error({"image_sise=3"}), "[prog] unknown key \"image_sise\"; did you mean \"image_size\"? (see --help)");
}

TEST(Args, MalformedAndRepeatedArguments) {
    EXPECT_EQ(parse_error({"out"}), "[prog] argument \"out\" is not key=value (see --help)");
    EXPECT_EQ(parse_error({"out=a", "out=b"}), "[prog] key \"out\" given twice");
}

TEST(Args, TypedValuesAreChecked) {
    KeyValueArgs args = make_args();
    const char* argv[] = {"prog", "images=12x", "image_size=5"};
    ASSERT_TRUE(args.parse(3, argv));
    EXPECT_THROW(args.get_int("images"), ArgError);
    try {
        args.get_int("image_size", 32, 4096);
        FAIL();
    } catch (const ArgError& e) {
        EXPECT_STREQ(e.what(), "[prog] image_size=5: expected an integer in [32, 4096]");
    }
}

TEST(Args, HelpListsEveryKeyWithItsDefault) {
    KeyValueArgs args = make_args();
    const char* argv[] = {"prog", "--help"};
    EXPECT_FALSE(args.parse(2, argv));
    const std::string help = args.help();
    for (const char* k : {"out=", "images=2000", "image_size=64", "training scenes"}) {
        EXPECT_NE(help.find(k), std::string::npos) << k;
    }
}

}  // namespace
