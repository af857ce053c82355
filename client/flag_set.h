#ifndef ACTSERVE_CLIENT_FLAG_SET_H_
#define ACTSERVE_CLIENT_FLAG_SET_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace actserve::client {

// The flags of one subcommand. absl flags are process-global, so every
// subcommand's --help would list every other subcommand's flags; a small set
// per subcommand keeps each --help about that subcommand only.
//
// Accepted forms: --name=value, --name value, and for booleans --name,
// --name=true|false and --noname.
class FlagSet {
 public:
  // `usage` is the synopsis line after "Usage: ", `summary` the paragraph
  // under it.
  FlagSet(std::string usage, std::string summary);

  // Each binds a variable whose current value is the default shown by
  // --help. `value_name` names the value in --help: --in=FILE.
  void AddString(absl::string_view name, std::string* value,
                 absl::string_view help, absl::string_view value_name = "STR");
  void AddBool(absl::string_view name, bool* value, absl::string_view help);
  void AddInt(absl::string_view name, int64_t* value, absl::string_view help,
              absl::string_view value_name = "N");
  void AddDouble(absl::string_view name, double* value, absl::string_view help,
                 absl::string_view value_name = "X");
  // "30s", "1.5m", "250ms" (absl::ParseDuration).
  void AddDuration(absl::string_view name, absl::Duration* value,
                   absl::string_view help);
  // May be given several times; each value is appended.
  void AddRepeated(absl::string_view name, std::vector<std::string>* values,
                   absl::string_view help,
                   absl::string_view value_name = "STR");
  // Parse fails unless these were given.
  void Require(absl::string_view name);

  // `args` excludes the program and subcommand names. Sets help_requested()
  // on --help or -h and then checks nothing else.
  absl::Status Parse(absl::Span<const std::string> args);
  bool help_requested() const { return help_requested_; }
  std::string Usage() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string value_name;  // empty for booleans
    std::string default_text;
    bool repeated = false;
    bool required = false;
    bool seen = false;
    std::function<absl::Status(absl::string_view)> set;
  };
  void Add(Flag flag);
  Flag* Find(absl::string_view name);

  std::string usage_;
  std::string summary_;
  std::vector<Flag> flags_;
  bool help_requested_ = false;
};

}  // namespace actserve::client

#endif  // ACTSERVE_CLIENT_FLAG_SET_H_
