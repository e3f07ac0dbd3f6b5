"""Conan 2 recipe for mmapx: a header-only package made from include/.

    conan create . -s compiler.cppstd=20

The version is read from include/mmapx/version.hpp (which meson.build checks
against its own), so there is one version to bump.
"""
import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout


class MmapxConan(ConanFile):
    name = "mmapx"
    package_type = "header-library"
    license = "MIT"
    url = "https://example.invalid/mmapx"
    homepage = "https://example.invalid/mmapx"
    description = "Header-only C++20 memory mapping and typed register access for Linux"
    topics = ("mmap", "memory-mapping", "shared-memory", "registers", "header-only")
    settings = "os", "arch", "compiler", "build_type"
    exports_sources = "include/*"
    no_copy_source = True

    def set_version(self):
        header = load(self, os.path.join(self.recipe_folder, "include", "mmapx", "version.hpp"))
        self.version = re.search(r'#define MMAPX_VERSION_STRING "([^"]+)"', header).group(1)

    def layout(self):
        basic_layout(self, src_folder=".")

    def package_id(self):
        # Headers only: one package serves every compiler, setting and architecture.
        self.info.clear()

    def validate(self):
        if self.settings.os != "Linux":
            raise ConanInvalidConfiguration("mmapx maps memory with Linux system calls: Linux only")
        check_min_cppstd(self, 20)

    def package(self):
        copy(self, "*", src=os.path.join(self.source_folder, "include"),
             dst=os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        # The names the installed copy uses, so consumers need not care how
        # mmapx reached them.
        self.cpp_info.set_property("cmake_file_name", "mmapx")
        self.cpp_info.set_property("cmake_target_name", "mmapx::mmapx")
        self.cpp_info.set_property("pkg_config_name", "mmapx")
