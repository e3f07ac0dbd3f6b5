// mmapx/mmapx.hpp - everything in mmapx through one include.
#pragma once

#include "anonymous.hpp"
#include "error.hpp"
#include "file.hpp"
#include "memfd.hpp"
#include "options.hpp"
#include "page.hpp"
#include "region.hpp"
#include "typed.hpp"
#include "unique_fd.hpp"
#include "version.hpp"
