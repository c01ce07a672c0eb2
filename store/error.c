#include "error.h"

#include <errno.h>
#include <string.h>

const char *annal_strerror(int code)
{
    switch (code) {
    case ANNAL_OK: return "success";
    case ANNAL_EINVAL: return "invalid argument";
    case ANNAL_ENOMEM: return "out of memory";
    case ANNAL_EIO: return errno ? strerror(errno) : "I/O error";
    case ANNAL_EEVENT: return "invalid event";
    case ANNAL_ECORRUPT: return "the log is damaged or inconsistent (run `annal verify`)";
    case ANNAL_ELOCKED: return "another writer holds this data directory";
    case ANNAL_ENOTFOUND: return "not found";
    case ANNAL_EFULL: return "buffer too small";
    case ANNAL_ECLOSED: return "the log is closed or failed earlier; reopen it";
    case ANNAL_EVERSION: return "unknown format version";
    case ANNAL_EBATCH: return "the batch has invalid events; nothing was appended";
    case ANNAL_EINDEX: return "the index is damaged or does not match the log (run `annal reindex`)";
    }
    return "unknown error code";
}
