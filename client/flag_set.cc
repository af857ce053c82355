#include "client/flag_set.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace actserve::client {
namespace {

absl::Status BadValue(absl::string_view name, absl::string_view value,
                      absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, "=", value, ": expected ", expected));
}

}  // namespace

FlagSet::FlagSet(std::string usage, std::string summary)
    : usage_(std::move(usage)), summary_(std::move(summary)) {}

void FlagSet::Add(Flag flag) { flags_.push_back(std::move(flag)); }

FlagSet::Flag* FlagSet::Find(absl::string_view name) {
  for (Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

void FlagSet::AddString(absl::string_view name, std::string* value,
                        absl::string_view help, absl::string_view value_name) {
  Add({std::string(name), std::string(help), std::string(value_name), *value,
       false, false, false, [value](absl::string_view text) {
         *value = std::string(text);
         return absl::OkStatus();
       }});
}

void FlagSet::AddBool(absl::string_view name, bool* value,
                      absl::string_view help) {
  Add({std::string(name), std::string(help), "", *value ? "true" : "", false,
       false, false, [value, name = std::string(name)](absl::string_view text) {
         if (!absl::SimpleAtob(text, value)) {
           return BadValue(name, text, "true or false");
         }
         return absl::OkStatus();
       }});
}

void FlagSet::AddInt(absl::string_view name, int64_t* value,
                     absl::string_view help, absl::string_view value_name) {
  Add({std::string(name), std::string(help), std::string(value_name),
       absl::StrCat(*value), false, false, false,
       [value, name = std::string(name)](absl::string_view text) {
         if (!absl::SimpleAtoi(text, value)) {
           return BadValue(name, text, "an integer");
         }
         return absl::OkStatus();
       }});
}

void FlagSet::AddDouble(absl::string_view name, double* value,
                        absl::string_view help, absl::string_view value_name) {
  Add({std::string(name), std::string(help), std::string(value_name),
       absl::StrCat(*value), false, false, false,
       [value, name = std::string(name)](absl::string_view text) {
         if (!absl::SimpleAtod(text, value)) {
           return BadValue(name, text, "a number");
         }
         return absl::OkStatus();
       }});
}

void FlagSet::AddDuration(absl::string_view name, absl::Duration* value,
                          absl::string_view help) {
  Add({std::string(name), std::string(help), "DURATION",
       absl::FormatDuration(*value), false, false, false,
       [value, name = std::string(name)](absl::string_view text) {
         if (!absl::ParseDuration(text, value) ||
             *value < absl::ZeroDuration()) {
           return BadValue(name, text, "a duration such as 30s or 500ms");
         }
         return absl::OkStatus();
       }});
}

void FlagSet::AddRepeated(absl::string_view name,
                          std::vector<std::string>* values,
                          absl::string_view help,
                          absl::string_view value_name) {
  Add({std::string(name), std::string(help), std::string(value_name), "", true,
       false, false, [values](absl::string_view text) {
         values->emplace_back(text);
         return absl::OkStatus();
       }});
}

void FlagSet::Require(absl::string_view name) {
  if (Flag* flag = Find(name)) flag->required = true;
}

absl::Status FlagSet::Parse(absl::Span<const std::string> args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const absl::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      return absl::OkStatus();
    }
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unexpected argument '", arg, "' (flags start with --)"));
    }
    const absl::string_view body = arg.substr(2);
    const size_t eq = body.find('=');
    const absl::string_view name = body.substr(0, eq);
    Flag* flag = Find(name);
    std::string value;
    if (flag == nullptr && eq == absl::string_view::npos &&
        absl::StartsWith(name, "no")) {
      Flag* negated = Find(name.substr(2));
      if (negated != nullptr && negated->value_name.empty()) {
        flag = negated;
        value = "false";
      }
    } else if (flag != nullptr && eq != absl::string_view::npos) {
      value = std::string(body.substr(eq + 1));
    } else if (flag != nullptr && flag->value_name.empty()) {
      value = "true";
    } else if (flag != nullptr) {
      if (i + 1 == args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (flag->seen && !flag->repeated) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag->name, " given twice"));
    }
    flag->seen = true;
    absl::Status status = flag->set(value);
    if (!status.ok()) return status;
  }
  for (const Flag& flag : flags_) {
    if (flag.required && !flag.seen) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag.name, " is required (see --help)"));
    }
  }
  return absl::OkStatus();
}

std::string FlagSet::Usage() const {
  std::string out =
      absl::StrCat("Usage: ", usage_, "\n\n", summary_, "\n\nFlags:\n");
  for (const Flag& flag : flags_) {
    std::string left = absl::StrCat("  --", flag.name);
    if (!flag.value_name.empty()) absl::StrAppend(&left, "=", flag.value_name);
    std::string right = flag.help;
    if (flag.required) absl::StrAppend(&right, " Required.");
    if (flag.repeated) absl::StrAppend(&right, " Repeatable.");
    if (!flag.default_text.empty()) {
      absl::StrAppend(&right, " (default: ", flag.default_text, ")");
    }
    // Help text starts in column 30 (the line after a long flag) and wraps
    // to fit 80 columns.
    absl::StrAppendFormat(&out, "%-30s", left);
    if (left.size() >= 30) absl::StrAppendFormat(&out, "\n%30s", "");
    size_t column = 30;
    for (absl::string_view word :
         absl::StrSplit(right, ' ', absl::SkipEmpty())) {
      if (column > 30 && column + 1 + word.size() > 80) {
        absl::StrAppendFormat(&out, "\n%30s", "");
        column = 30;
      }
      if (column > 30) {
        out += ' ';
        ++column;
      }
      absl::StrAppend(&out, word);
      column += word.size();
    }
    out += '\n';
  }
  absl::StrAppend(&out, "  --help", std::string(22, ' '),
                  "Show this help and exit.\n");
  return out;
}

}  // namespace actserve::client
