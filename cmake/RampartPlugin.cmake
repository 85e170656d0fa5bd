# rp_add_plugin(<name> <sources>...): builds build/plugins/<name>.so with the
# rules of sdk/docs/abi-policy.md: the SDK header only, hidden visibility, one
# exported symbol (rampart_plugin_entry_v1), and no undefined symbols, so the
# plugin never depends on the agent's own symbols.
#
# Options: OUTPUT_DIR <dir> (default build/plugins), INCLUDE_DIR <dir> (the SDK
# include folder to build against; tests use a frozen copy), EXPORT_MAP <file>
# (default sdk/rampart-plugin.map; ABI tests export wrong symbols on purpose).
function(rp_add_plugin name)
  cmake_parse_arguments(RPP "" "OUTPUT_DIR;INCLUDE_DIR;EXPORT_MAP" "" ${ARGN})
  if(NOT RPP_OUTPUT_DIR)
    # Shipped plugins (not test ones) are part of the `agent` target.
    set_property(GLOBAL APPEND PROPERTY RP_SHIPPED_PLUGINS ${name})
  endif()
  if(NOT RPP_EXPORT_MAP)
    set(RPP_EXPORT_MAP ${CMAKE_SOURCE_DIR}/sdk/rampart-plugin.map)
  endif()
  if(NOT RPP_OUTPUT_DIR)
    set(RPP_OUTPUT_DIR ${RP_PLUGIN_OUTPUT_DIR})
  endif()
  if(NOT RPP_INCLUDE_DIR)
    set(RPP_INCLUDE_DIR ${CMAKE_SOURCE_DIR}/sdk/include)
  endif()
  add_library(${name} MODULE ${RPP_UNPARSED_ARGUMENTS})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${RPP_OUTPUT_DIR}
    C_VISIBILITY_PRESET hidden
    LINK_DEPENDS ${RPP_EXPORT_MAP})
  target_include_directories(${name} PRIVATE ${RPP_INCLUDE_DIR})
  target_link_options(${name} PRIVATE
    -Wl,--version-script=${RPP_EXPORT_MAP} -Wl,--no-undefined)
endfunction()
