# Warnings apply to our targets only (not to generated protobuf code).
add_library(actserve_warnings INTERFACE)
target_compile_options(actserve_warnings INTERFACE -Wall -Wextra -Wpedantic
                       -Wno-psabi
                       # Designated initializers leave the rest defaulted on purpose.
                       -Wno-missing-field-initializers)
