# loopconfAdapter.cmake: loopconf_add_adapter(), the one way to build an adapter module, shared
# by the source tree (adapters/example) and the installed SDK (loopconfConfig.cmake).
#
#   loopconf_add_adapter(<target> SOURCES <file.c>... [EXPECT <file.expect>] [OUTPUT_DIR <dir>])
#
# builds <target> as a shared module (no "lib" prefix trouble: the runner loads it by path),
# with hidden visibility so only loopconf_backend() is exported, C11, warnings on, linked to
# loopconf::contract (include/loopconf/backend.h). EXPECT copies the expectations file next
# to the module as "<module name without .so>.expect", where `loopconf run --backend PATH`
# looks for it. OUTPUT_DIR defaults to the current binary directory.
include_guard(GLOBAL)

function(loopconf_add_adapter target)
  cmake_parse_arguments(PARSE_ARGV 1 _lca "" "EXPECT;OUTPUT_DIR" "SOURCES")
  if(_lca_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "loopconf_add_adapter(${target}): unknown arguments '${_lca_UNPARSED_ARGUMENTS}'")
  endif()
  if(NOT _lca_SOURCES)
    message(FATAL_ERROR "loopconf_add_adapter(${target}): SOURCES is required")
  endif()
  if(NOT TARGET loopconf::contract)
    message(FATAL_ERROR "loopconf_add_adapter(${target}): loopconf::contract is missing; "
                        "call find_package(loopconf) first")
  endif()
  if(NOT _lca_OUTPUT_DIR)
    set(_lca_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  add_library(${target} MODULE ${_lca_SOURCES})
  target_link_libraries(${target} PRIVATE loopconf::contract)
  set_target_properties(${target} PROPERTIES
                        C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF
                        C_VISIBILITY_PRESET hidden
                        LIBRARY_OUTPUT_DIRECTORY ${_lca_OUTPUT_DIR})
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra)
  endif()
  if(_lca_EXPECT)
    get_filename_component(_expect "${_lca_EXPECT}" ABSOLUTE)
    if(NOT EXISTS "${_expect}")
      message(FATAL_ERROR "loopconf_add_adapter(${target}): no expectations file ${_expect}")
    endif()
    # The module's file name is known only at generate time: copy after each build.
    add_custom_command(TARGET ${target} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E copy_if_different "${_expect}"
              "$<TARGET_FILE_DIR:${target}>/$<TARGET_FILE_PREFIX:${target}>$<TARGET_FILE_BASE_NAME:${target}>.expect"
      VERBATIM)
    set_property(TARGET ${target} PROPERTY LOOPCONF_EXPECT "${_expect}")
  endif()
endfunction()
