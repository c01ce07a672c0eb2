/*
 * error.h - the one error space of annal.
 *
 * Every library function returns int: 0 (ANNAL_OK) is success, a negative
 * ANNAL_E* code is a failure. Codes never collide with errno values; where a
 * system call failed, the function returns ANNAL_EIO and leaves errno as the
 * call set it. annal_strerror() names every code.
 */
#ifndef ANNAL_ERROR_H
#define ANNAL_ERROR_H

enum {
    ANNAL_OK = 0,
    ANNAL_EINVAL = -30001,   /* invalid argument passed by the caller */
    ANNAL_ENOMEM = -30002,   /* allocation failed */
    ANNAL_EIO = -30003,      /* a system call failed; errno says which */
    ANNAL_EEVENT = -30004,   /* an event failed validation (details in annal_event_error) */
    ANNAL_ECORRUPT = -30005, /* the log on disk is damaged or inconsistent: run `annal verify` */
    ANNAL_ELOCKED = -30006,  /* another writer holds the data directory */
    ANNAL_ENOTFOUND = -30007,/* no such seq / record */
    ANNAL_EFULL = -30008,    /* the output buffer is too small */
    ANNAL_ECLOSED = -30009,  /* the log was closed, or failed earlier and refuses writes */
    ANNAL_EVERSION = -30010, /* a file uses a format version this build does not know */
    ANNAL_EBATCH = -30011,   /* a batch had invalid events; nothing was appended */
    ANNAL_EINDEX = -30012,   /* the index is damaged or does not match the log: run `annal reindex` */
};

/* A static, human readable name for code; never NULL. */
const char *annal_strerror(int code);

#endif
