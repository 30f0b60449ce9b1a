// Only in the test build `variants/service/libconclave_service.so`: a symbol the real build lacks,
// so the two files differ in build id (see CMakeLists.txt).
extern "C" const char conclave_service_variant_marker[] = "service variant b";
