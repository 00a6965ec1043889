// demi-stallprobe: the machine's own stalls. A pinned busy loop reads the clock as fast as it
// can; any gap between two consecutive reads is time the core was taken from us (an interrupt,
// another task, the hypervisor). Every latency figure of the bench sits on top of these gaps, so
// they are reported beside the figures.
//
//   demi-stallprobe [--seconds S] [--json]
//
// Output: the largest gap, the number of gaps at or above 1, 10, 100 us and 1 ms, the fraction of
// the run lost in gaps of at least 1 us, and a histogram of gaps by power-of-two microseconds.
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

int usage() {
  std::fprintf(stderr, "usage: demi-stallprobe [--seconds S] [--json]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--seconds" && i + 1 < argc) {
      char* end = nullptr;
      errno = 0;
      seconds = std::strtod(argv[++i], &end);
      if (errno || *end || !(seconds > 0 && seconds <= 600)) return usage();
    } else {
      return usage();
    }
  }
  // Bucket b holds gaps in [2^b, 2^(b+1)) us; bucket 0 also holds [1, 2) us.
  std::array<uint64_t, 24> hist{};
  uint64_t reads = 0, over_1us = 0, over_10us = 0, over_100us = 0, over_1ms = 0;
  double lost_ns = 0, max_gap_ns = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  auto prev = start;
  for (;;) {
    const auto now = Clock::now();
    ++reads;
    const double gap_ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - prev).count());
    prev = now;
    if (gap_ns >= 1000) {
      ++over_1us;
      lost_ns += gap_ns;
      if (gap_ns >= 10e3) ++over_10us;
      if (gap_ns >= 100e3) ++over_100us;
      if (gap_ns >= 1e6) ++over_1ms;
      max_gap_ns = std::max(max_gap_ns, gap_ns);
      std::size_t b = 0;
      for (double us = gap_ns / 1000; us >= 2 && b + 1 < hist.size(); us /= 2) ++b;
      ++hist[b];
    }
    if (now >= end) break;
  }
  const double run_ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(prev - start).count());
  const double read_ns = run_ns / static_cast<double>(reads);
  if (json) {
    std::printf("{\"seconds\": %.3f, \"clock_read_ns\": %.1f, \"max_gap_us\": %.1f, \"gaps_ge_1us\": %llu, "
                "\"gaps_ge_10us\": %llu, \"gaps_ge_100us\": %llu, \"gaps_ge_1ms\": %llu, \"lost_fraction\": %.6f, "
                "\"hist_log2_us\": [",
                run_ns / 1e9, read_ns, max_gap_ns / 1000, static_cast<unsigned long long>(over_1us),
                static_cast<unsigned long long>(over_10us), static_cast<unsigned long long>(over_100us),
                static_cast<unsigned long long>(over_1ms), lost_ns / run_ns);
    for (std::size_t b = 0; b < hist.size(); ++b)
      std::printf("%s%llu", b ? ", " : "", static_cast<unsigned long long>(hist[b]));
    std::printf("]}\n");
  } else {
    std::printf("stallprobe %.2f s: max gap %.1f us; gaps >=1us %llu, >=10us %llu, >=100us %llu, >=1ms %llu; "
                "%.4f%% of the time lost\n",
                run_ns / 1e9, max_gap_ns / 1000, static_cast<unsigned long long>(over_1us),
                static_cast<unsigned long long>(over_10us), static_cast<unsigned long long>(over_100us),
                static_cast<unsigned long long>(over_1ms), 100 * lost_ns / run_ns);
    for (std::size_t b = 0; b < hist.size(); ++b)
      if (hist[b]) std::printf("  [%llu us, %llu us): %llu\n", 1ULL << b, 2ULL << b, static_cast<unsigned long long>(hist[b]));
  }
  return 0;
}
