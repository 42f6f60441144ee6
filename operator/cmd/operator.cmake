find_package(CLI11 CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
add_executable(srexpert-operator ${CMAKE_CURRENT_SOURCE_DIR}/operator_main.cc)
target_link_libraries(srexpert-operator PRIVATE srx_operator srx_runtime srx_leaderelection
                      CLI11::CLI11 prometheus-cpp::core fmt::fmt)
install(TARGETS srexpert-operator RUNTIME DESTINATION bin)
