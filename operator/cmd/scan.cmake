find_package(CLI11 CONFIG REQUIRED)
add_executable(srexpert-scan ${CMAKE_CURRENT_SOURCE_DIR}/scan_main.cc)
target_link_libraries(srexpert-scan PRIVATE srx_scan_cli CLI11::CLI11)
install(TARGETS srexpert-scan RUNTIME DESTINATION bin)
