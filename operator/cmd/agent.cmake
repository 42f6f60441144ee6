find_package(CLI11 CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
add_executable(srexpert-agent ${CMAKE_CURRENT_SOURCE_DIR}/agent_main.cc)
target_link_libraries(srexpert-agent PRIVATE srx_agent srx_runtime CLI11::CLI11
                      prometheus-cpp::core fmt::fmt)
install(TARGETS srexpert-agent RUNTIME DESTINATION bin)
