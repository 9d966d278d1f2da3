#ifndef MAPSRACE_CZSTD_SHIM_H
#define MAPSRACE_CZSTD_SHIM_H
#include <zstd.h>
#include <zstd_errors.h>
#endif
