# Cross-compiling cloudless for a Debian 12 architecture: Debian's cross compiler
# (crossbuild-essential-<arch>) and the target's libraries in a sysroot made by
# debian/cross/make-sysroot (the Debian 12 packages of that architecture, unpacked). Included by the
# per-triplet files beside it, which set CLOUDLESS_CROSS_TRIPLET, CMAKE_SYSTEM_PROCESSOR and
# CLOUDLESS_CROSS_QEMU.
#
#   debian/cross/make-sysroot arm64 /var/tmp/cloudless-sysroot-arm64
#   cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=debian/cross/aarch64-linux-gnu.cmake \
#         -DCLOUDLESS_SYSROOT=/var/tmp/cloudless-sysroot-arm64
#
# Test programs run under qemu-user with the sysroot as its prefix (no binfmt registration needed), so
# `ctest` and Catch2's test discovery work as in a native build.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_LIBRARY_ARCHITECTURE ${CLOUDLESS_CROSS_TRIPLET})
set(CMAKE_C_COMPILER ${CLOUDLESS_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${CLOUDLESS_CROSS_TRIPLET}-g++)

# The sysroot: a cache variable, or the environment (try_compile projects see only the environment).
if(NOT CLOUDLESS_SYSROOT AND DEFINED ENV{CLOUDLESS_SYSROOT})
  set(CLOUDLESS_SYSROOT $ENV{CLOUDLESS_SYSROOT})
endif()
if(NOT CLOUDLESS_SYSROOT OR NOT EXISTS "${CLOUDLESS_SYSROOT}/usr/lib/${CLOUDLESS_CROSS_TRIPLET}")
  message(FATAL_ERROR "CLOUDLESS_SYSROOT must name a sysroot made by debian/cross/make-sysroot "
    "(got '${CLOUDLESS_SYSROOT}')")
endif()
set(CLOUDLESS_SYSROOT ${CLOUDLESS_SYSROOT} CACHE PATH "Target libraries (debian/cross/make-sysroot)")
set(ENV{CLOUDLESS_SYSROOT} ${CLOUDLESS_SYSROOT})
set(CMAKE_SYSROOT ${CLOUDLESS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH ${CLOUDLESS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config reads the target's .pc files and prefixes their paths with the sysroot. The build
# machine's pkg-config, forced: a cross build under debhelper names the triplet wrapper, which would read
# multiarch paths of the build machine instead.
set(PKG_CONFIG_EXECUTABLE /usr/bin/pkg-config CACHE FILEPATH "pkg-config of the build machine" FORCE)
set(ENV{PKG_CONFIG_SYSROOT_DIR} ${CLOUDLESS_SYSROOT})
set(ENV{PKG_CONFIG_LIBDIR}
  "${CLOUDLESS_SYSROOT}/usr/lib/${CLOUDLESS_CROSS_TRIPLET}/pkgconfig:${CLOUDLESS_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Target programs (tests, Catch2's discovery) run under qemu-user: -L makes the sysroot the root for
# the dynamic loader and the libraries it opens.
find_program(CLOUDLESS_QEMU ${CLOUDLESS_CROSS_QEMU})
if(CLOUDLESS_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${CLOUDLESS_QEMU} -L ${CLOUDLESS_SYSROOT})
endif()
