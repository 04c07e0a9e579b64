// The array scanner: every element of a file is found with its exact bytes and offset, whatever its
// strings hold (escaped quotes, brackets, unicode escapes), however it is laid out, and across the
// scanner's 1 MiB chunks; a file that is not a list, or ends before its list does, is an error
// naming the file, line and column.
#include "data/errors.h"
#include "data/json_array_scan.h"
#include "temp_dir.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <random>

namespace {

using mod::data::JsonElement;
using mod::data::JsonError;
using mod::test::TempDir;
using nlohmann::json;

struct Found {
    uint64_t offset;
    std::string bytes;
    size_t index;
};

std::vector<Found> scan(const std::string& path) {
    std::vector<Found> out;
    mod::data::scan_json_array(path, "scan",
                               [&](const JsonElement& e) { out.push_back({e.offset, std::string(e.bytes), e.index}); });
    return out;
}

std::string write(const TempDir& dir, const std::string& text) {
    const std::string path = dir.str("data.json");
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

// Scans `text` and checks each element against the parser's reading of the whole text: the same
// values in the same order, each element's bytes where its offset says.
void expect_scans_like_the_parser(const std::string& text) {
    TempDir dir;
    const std::vector<Found> found = scan(write(dir, text));
    const json whole = json::parse(text);
    ASSERT_EQ(found.size(), whole.size()) << text.substr(0, 200);
    for (size_t i = 0; i < found.size(); ++i) {
        EXPECT_EQ(found[i].index, i);
        EXPECT_EQ(text.substr(found[i].offset, found[i].bytes.size()), found[i].bytes);
        EXPECT_EQ(json::parse(found[i].bytes), whole[i]) << found[i].bytes;
    }
}

// The message of the JsonError scanning `text` throws, with the temporary path shown as data.json.
std::string scan_error(const std::string& text) {
    TempDir dir;
    const std::string path = write(dir, text);
    try {
        scan(path);
    } catch (const JsonError& e) {
        std::string what = e.what();
        const size_t at = what.find(path);
        return at == std::string::npos ? what : what.replace(at, path.size(), "data.json");
    }
    return "";
}

TEST(JsonArrayScan, TrickyStrings) {
    expect_scans_like_the_parser(R"([
        {"id": "quote \" inside", "v": "close ] and } and [ { inside"},
        {"id": "a backslash at the end \\", "v": "\\\"still a string\\\""},
        {"id": "unicode \u005d \u0022 \u007b \ud83d\ude00", "v": "é ü 日本 😀"},
        {"id": "nested", "v": [[1, [2, [3]]], {"a": [{"b": "]"}, []], "c": {}}]},
        "a string element with ] and ,",
        12, -3.5e2, true, false, null, [], {}
    ])");
}

TEST(JsonArrayScan, WhitespaceVariants) {
    expect_scans_like_the_parser(R"([{"a":1},{"b":[2,3]},"x",4])");
    expect_scans_like_the_parser("\xEF\xBB\xBF[ {\"a\" : 1 } ,\r\n\t{\"b\":2}\n]\n\n");
    expect_scans_like_the_parser("[1 ,2\t,\n3]");
    const json pretty = json::parse(R"([{"id": "p", "conversations": [{"from": "human", "value": "Q"}]}, [1, 2]])");
    expect_scans_like_the_parser(pretty.dump(4));
}

TEST(JsonArrayScan, EmptyList) {
    TempDir dir;
    EXPECT_TRUE(scan(write(dir, "[]")).empty());
    EXPECT_TRUE(scan(write(dir, " \n[ \n\t ]\n")).empty());
}

// Elements that straddle chunk boundaries, and one longer than a whole chunk, come out whole.
TEST(JsonArrayScan, ElementsAcrossChunks) {
    json list = json::array();
    for (int i = 0; i < 30000; ++i) {
        list.push_back({{"id", std::to_string(i)}, {"v", std::string(static_cast<size_t>(i % 97), 'x') + "\"]"}});
    }
    list.push_back({{"id", "big"}, {"v", std::string(3u << 20, 'y')}});  // 3 MiB: longer than the buffer
    for (int i = 0; i < 1000; ++i) list.push_back(i);
    expect_scans_like_the_parser(list.dump());
    expect_scans_like_the_parser(list.dump(1));
}

// Random documents: strings of every troublesome character, nesting, and layouts.
TEST(JsonArrayScan, RandomDocuments) {
    std::mt19937 rng(7);
    // dump() escapes what JSON must (quotes, backslashes, control characters).
    const std::vector<std::string> alphabet = {"a", "b", "\"", "\\", "[", "]", "{", "}",
                                               ",", ":", " ", "\n", "\t", "/", "\x01", "\xc3\xa9"};
    auto random_string = [&] {
        std::string s;
        for (int n = static_cast<int>(rng() % 12); n > 0; --n) s += alphabet[rng() % alphabet.size()];
        return s;
    };
    std::function<json(int)> random_value = [&](int depth) -> json {
        switch (depth > 3 ? rng() % 3 : rng() % 5) {
            case 0: return random_string();
            case 1: return static_cast<int>(rng() % 1000) - 500;
            case 2: return rng() % 2 == 0;
            case 3: {
                json a = json::array();
                for (int n = static_cast<int>(rng() % 4); n > 0; --n) a.push_back(random_value(depth + 1));
                return a;
            }
            default: {
                json o = json::object();
                for (int n = static_cast<int>(rng() % 4); n > 0; --n) o[random_string()] = random_value(depth + 1);
                return o;
            }
        }
    };
    for (int doc = 0; doc < 50; ++doc) {
        json list = json::array();
        for (int n = static_cast<int>(rng() % 20); n > 0; --n) list.push_back(random_value(0));
        expect_scans_like_the_parser(list.dump(doc % 3 == 0 ? -1 : doc % 3, ' ', /*ensure_ascii=*/doc % 2 == 0));
    }
}

TEST(JsonArrayScan, NotAList) {
    EXPECT_EQ(scan_error(R"({"id": "x"})"), "[scan] data.json:1:1: expected a JSON list of samples");
    EXPECT_EQ(scan_error("\n  7"), "[scan] data.json:2:3: expected a JSON list of samples");
    EXPECT_EQ(scan_error(""), "[scan] data.json:1:1: unexpected end of file; expected a JSON list of samples");
}

TEST(JsonArrayScan, TruncatedFiles) {
    EXPECT_EQ(scan_error("[{\"a\": 1},\n {\"b\": \"abc"),
              "[scan] data.json:2:12: unexpected end of file inside the element that starts at 2:2 (a string is not closed)");
    EXPECT_EQ(scan_error("[{\"a\": [1, 2]"),
              "[scan] data.json:1:14: unexpected end of file inside the element that starts at 1:2 (a '{' or '[' is not closed)");
    EXPECT_EQ(scan_error("[{\"a\": 1}"), "[scan] data.json:1:10: unexpected end of file; the list is not closed with ']'");
    EXPECT_EQ(scan_error("[{\"a\": 1},"), "[scan] data.json:1:11: unexpected end of file; the list is not closed with ']'");
    EXPECT_EQ(scan_error("[1"), "[scan] data.json:1:3: unexpected end of file; the list is not closed with ']'");
}

TEST(JsonArrayScan, BadListSyntax) {
    EXPECT_EQ(scan_error("[{}\n {}]"), "[scan] data.json:2:2: unexpected '{'; expected ',' or ']'");
    EXPECT_EQ(scan_error("[{},]"), "[scan] data.json:1:5: unexpected ']'; expected an element of the list");
    EXPECT_EQ(scan_error("[,{}]"), "[scan] data.json:1:2: unexpected ','; expected an element of the list");
    EXPECT_EQ(scan_error("[{}] x"), "[scan] data.json:1:6: unexpected 'x' after the list; expected the end of the file");
}

TEST(JsonArrayScan, MissingFile) {
    try {
        scan("/nonexistent/data.json");
        FAIL() << "no error";
    } catch (const JsonError& e) {
        EXPECT_EQ(std::string(e.what()), "[scan] /nonexistent/data.json: cannot open");
    }
}

// The elements handed over so far stand when a later part of the file is malformed: a stream of
// millions of samples fails where the problem is, not before.
TEST(JsonArrayScan, ElementsBeforeAnErrorAreHandedOver) {
    TempDir dir;
    const std::string path = write(dir, "[{\"a\": 1}, {\"b\": 2} {\"c\": 3}]");
    std::vector<std::string> seen;
    auto keep = [&](const JsonElement& e) { seen.emplace_back(e.bytes); };
    EXPECT_THROW(mod::data::scan_json_array(path, "scan", keep), JsonError);
    EXPECT_EQ(seen, (std::vector<std::string>{"{\"a\": 1}", "{\"b\": 2}"}));
}

}  // namespace
