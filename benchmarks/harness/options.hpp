// harness/options.hpp - command-line options of the form --name=value and
// --flag, nothing more, so every benchmark takes its knobs the same way.
//
//   bench::options opt(argc, argv);
//   int reps = opt.get_int("reps", 7);
//   if (opt.has("quick")) ...
//   opt.reject_unknown();   // after the last get: typos fail loudly
#pragma once

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

namespace bench {

class options {
  public:
    options(int argc, char** argv) {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (a.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument: " + a);
            a.erase(0, 2);
            const auto eq = a.find('=');
            if (eq == std::string::npos)
                values_[a] = "";
            else
                values_[a.substr(0, eq)] = a.substr(eq + 1);
        }
    }

    [[nodiscard]] bool has(const std::string& name) {
        used_.insert(name);
        return values_.count(name) != 0;
    }
    [[nodiscard]] std::string get(const std::string& name, const std::string& fallback) {
        used_.insert(name);
        const auto it = values_.find(name);
        return it == values_.end() ? fallback : it->second;
    }
    [[nodiscard]] long long get_int(const std::string& name, long long fallback) {
        const std::string v = get(name, "");
        return v.empty() ? fallback : std::stoll(v);
    }
    [[nodiscard]] double get_double(const std::string& name, double fallback) {
        const std::string v = get(name, "");
        return v.empty() ? fallback : std::stod(v);
    }

    // Throws if an option was given that no get()/has() asked about.
    void reject_unknown() const {
        for (const auto& [name, value] : values_)
            if (used_.count(name) == 0) throw std::invalid_argument("unknown option --" + name);
    }

  private:
    std::map<std::string, std::string> values_;
    std::set<std::string> used_;
};

}  // namespace bench
