/*
 * gen.h - the workload generator behind `annal gen` (tools/gen.c).
 *
 * Writes `events` NDJSON client events (PRODUCT.md §1; one compact JSON
 * object per line) to `out`. The output is a pure function of the arguments:
 * the same (seed, events, tenants, days) always gives the same bytes, on any
 * machine, compiler or locale (own PRNG, integer arithmetic only, no clock).
 *
 * Returns ANNAL_OK, ANNAL_EINVAL for arguments out of range (tenants 0 or
 * above ANNAL_GEN_MAX_TENANTS, days above ANNAL_GEN_MAX_DAYS, out NULL),
 * ANNAL_ENOMEM, or ANNAL_EIO when writing failed (errno set by the write).
 */
#ifndef ANNAL_GEN_H
#define ANNAL_GEN_H

#include <stdint.h>
#include <stdio.h>

#define ANNAL_GEN_DEFAULT_TENANTS 20
#define ANNAL_GEN_MAX_TENANTS 10000
#define ANNAL_GEN_MAX_DAYS 3650
#define ANNAL_GEN_MAX_EVENTS 1000000000000ull

/* The default time span: 30 days x sqrt(events / 1M), between 1 and 90 days. */
int annal_gen_write(FILE *out, uint64_t seed, uint64_t events, unsigned tenants);

/* As annal_gen_write, with the time span in days (0: the default span). */
int annal_gen_write_days(FILE *out, uint64_t seed, uint64_t events, unsigned tenants,
                         unsigned days);

#endif
