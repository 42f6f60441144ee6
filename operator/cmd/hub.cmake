find_package(CLI11 CONFIG REQUIRED)
add_executable(srexpert-hub ${CMAKE_CURRENT_SOURCE_DIR}/hub_main.cc)
target_link_libraries(srexpert-hub PRIVATE srx_hub srx_api CLI11::CLI11)
install(TARGETS srexpert-hub RUNTIME DESTINATION bin)
