/* The ABI is header-only; this file exists because a C target needs one source file. */
#include "berth_plugin.h"
