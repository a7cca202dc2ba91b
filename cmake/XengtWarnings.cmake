# Warnings are errors-in-waiting: the tree builds clean with these on.
add_library(xengt_warnings INTERFACE)
target_compile_options(xengt_warnings INTERFACE
    -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
    -Woverloaded-virtual
    -Wimplicit-fallthrough -Wformat=2)
