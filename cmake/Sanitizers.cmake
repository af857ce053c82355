# One switch for sanitizer builds: ACTSERVE_SANITIZE="address;undefined" or "thread".
if(ACTSERVE_SANITIZE)
  list(JOIN ACTSERVE_SANITIZE "," _actserve_sanitizers)
  add_compile_options(-fsanitize=${_actserve_sanitizers} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_actserve_sanitizers})
endif()

# libFuzzer targets (tests/fuzz): clang only. Everything is compiled with
# coverage instrumentation so that the fuzzers see into core, server and
# client code; only the fuzzers link libFuzzer's main.
if(ACTSERVE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ACTSERVE_FUZZ needs clang (e.g. CXX=clang++-14 CC=clang-14)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
