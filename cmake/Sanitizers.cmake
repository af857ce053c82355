# One switch for sanitizer builds: ACTSERVE_SANITIZE="address;undefined" or "thread".
if(ACTSERVE_SANITIZE)
  list(JOIN ACTSERVE_SANITIZE "," _actserve_sanitizers)
  add_compile_options(-fsanitize=${_actserve_sanitizers} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_actserve_sanitizers})
endif()
