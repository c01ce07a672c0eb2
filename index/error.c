#include "index/index.h"

const char *annal_index_strerror(int code)
{
    if (code == ANNAL_EINDEX)
        return "the index does not match the log or is damaged (run `annal reindex`)";
    if (code == ANNAL_EVERSION)
        return "the index has another format version than this build (run `annal reindex`)";
    return annal_strerror(code);
}
