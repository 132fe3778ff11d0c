# Third-party dependencies, all from Debian packages (scripts/setup.sh installs them).
# pkg-config where the package ships a .pc file; find_library/find_path for the
# few that do not (CivetWeb, XNNPACK, pthreadpool, oneDNN).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(VIPS REQUIRED IMPORTED_TARGET vips)
pkg_check_modules(ARCHIVE REQUIRED IMPORTED_TARGET libarchive)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET libprotobuf-c)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)

# kadr_import(<target> <header> <library>): an imported target for a package
# without pkg-config metadata.
function(kadr_import target header lib)
  find_path(${target}_INC ${header} REQUIRED)
  find_library(${target}_LIB ${lib} REQUIRED)
  add_library(${target} UNKNOWN IMPORTED)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION ${${target}_LIB}
                        INTERFACE_INCLUDE_DIRECTORIES ${${target}_INC})
endfunction()

kadr_import(kadr::civetweb civetweb.h civetweb)
kadr_import(kadr::xnnpack xnnpack.h XNNPACK)
kadr_import(kadr::pthreadpool pthreadpool.h pthreadpool)
kadr_import(kadr::dnnl oneapi/dnnl/dnnl.h dnnl)

find_program(PROTOC_C protoc-c REQUIRED)
set(ONNX_PROTO /usr/include/onnx/onnx.proto CACHE FILEPATH "onnx.proto from libonnx-dev")
