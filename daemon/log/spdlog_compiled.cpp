// spdlog's implementation, compiled once for the whole program.
//
// We link spdlog's headers, not its shared library: the shared library costs ~0.5 MB resident at load
// (symbol tables and relocations) for code we mostly do not call (docs/build.md §9). Header-only, though,
// every file that logs would compile the logger, the registry and the pattern formatter again, about a
// minute per build configuration. So every layer compiles with SPDLOG_COMPILED_LIB (declarations only,
// the cloudless_log target sets it) and this file alone includes the implementation headers. The list
// mirrors what spdlog's own compiled library builds, for the parts we use: the core, the stdout/stderr
// sinks and the colour sink of spdlog's default logger (the registry makes one before ours replaces it).
// A sink added to the daemon from another spdlog header fails to link until its -inl.h joins here.
#ifndef SPDLOG_COMPILED_LIB
#error "cloudless_log compiles with SPDLOG_COMPILED_LIB; see daemon/CMakeLists.txt"
#endif

#include <spdlog/common-inl.h>
#include <spdlog/details/backtracer-inl.h>
#include <spdlog/details/log_msg-inl.h>
#include <spdlog/details/log_msg_buffer-inl.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/details/os-inl.h>
#include <spdlog/details/periodic_worker-inl.h>
#include <spdlog/details/registry-inl.h>
#include <spdlog/logger-inl.h>
#include <spdlog/pattern_formatter-inl.h>
#include <spdlog/sinks/ansicolor_sink-inl.h>
#include <spdlog/sinks/base_sink-inl.h>
#include <spdlog/sinks/sink-inl.h>
#include <spdlog/sinks/stdout_color_sinks-inl.h>
#include <spdlog/sinks/stdout_sinks-inl.h>
#include <spdlog/spdlog-inl.h>

#include <mutex>
#include <string>

// The templates spdlog's library instantiates for its users; without them each user would need the
// -inl.h headers this file exists to keep away from them.
template spdlog::logger::logger(std::string name, sinks_init_list::iterator begin, sinks_init_list::iterator end);
template class spdlog::sinks::base_sink<std::mutex>;
template class spdlog::sinks::base_sink<spdlog::details::null_mutex>;
template class spdlog::sinks::stdout_sink_base<spdlog::details::console_mutex>;
template class spdlog::sinks::stdout_sink_base<spdlog::details::console_nullmutex>;
template class spdlog::sinks::stdout_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::stdout_sink<spdlog::details::console_nullmutex>;
template class spdlog::sinks::stderr_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::stderr_sink<spdlog::details::console_nullmutex>;
template class spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::ansicolor_stdout_sink<spdlog::details::console_mutex>;
