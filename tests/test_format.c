/* The test vectors of store/FORMAT.md, and the metadata frames' encoders and
 * decoders: round trips, and every single-bit flip caught. */
#include "t.h"

#include "store/bytes.h"
#include "store/error.h"
#include "store/event.h"
#include "store/hash.h"
#include "store/segment.h"

static const char *vec_records[3] = {
    "{\"seq\":1,\"recorded_at\":\"2026-10-01T00:00:00.000000001Z\",\"tenant_id\":\"acme\",\"event_type\":\"RunStarted\",\"run_id\":\"run-1\",\"data\":{\"model\":\"gpt-4o\",\"feature_tag\":\"chat\"}}",
    "{\"seq\":2,\"recorded_at\":\"2026-10-01T00:00:00.000000002Z\",\"tenant_id\":\"acme\",\"event_type\":\"CostRecorded\",\"run_id\":\"run-1\",\"api_key_id\":\"key-1\",\"data\":{\"model\":\"gpt-4o\",\"input_tokens\":1200,\"output_tokens\":300,\"cost_cents\":42}}",
    "{\"seq\":3,\"recorded_at\":\"2026-10-01T00:00:01.500000000Z\",\"tenant_id\":\"globex\",\"event_type\":\"RunCompleted\",\"run_id\":\"run-1\",\"data\":{\"duration_ms\":1500}}",
};
static const char *vec_leaf[3] = {
    "303c205f71ff2af61aa4b003070794b2e6e2cb4df3abb8af03795158b8d5aee1",
    "ec1c1fd37743a028ffc1c94e16b8940b4c02da77e4fcac2dda8b373bc4b2eab2",
    "37848d25e48c96dc918cb5d81841bef0a5216558bc1b4562426cf02c4b0149fd",
};
static const char *vec_chain[3] = {
    "0656f587347ba5d4bbebce4671af16b1e4fab7f6ae5964051a658414cc408453",
    "f0cdbc2521604ae9d3e344b4d10b8576842502a357ddb385203bfd900f32f566",
    "a4c51ad2867f22fc22b230a4a6c0d59ff65298f12ae26fecfda3ad3cbb2d9c3d",
};
static const char *vec_header =
    "5a2a4d1840000000414e5348010000000100000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000039e3c03eda18bb365b0228e974f2";

static void hex_of(const unsigned char *p, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = 0;
}

static void format_vectors_give_the_documented_leaf_and_chain_hashes(void)
{
    unsigned char chain[32] = {0}, leaf[32];
    char hex[65];
    for (int i = 0; i < 3; i++) {
        annal_leaf_hash(vec_records[i], strlen(vec_records[i]), leaf);
        annal_hex32(leaf, hex);
        CHECKF(!strcmp(hex, vec_leaf[i]), "leaf %d: %s", i + 1, hex);
        annal_chain_next(chain, leaf, chain);
        annal_hex32(chain, hex);
        CHECKF(!strcmp(hex, vec_chain[i]), "chain %d: %s", i + 1, hex);
    }
}

static void format_vector_records_are_valid_canonical_records(void)
{
    for (int i = 0; i < 3; i++) {
        annal_event ev;
        annal_event_error err;
        int rc = annal_record_parse(vec_records[i], strlen(vec_records[i]), &ev, &err);
        CHECKF(rc == ANNAL_OK, "record %d: %s: %s", i + 1, err.field, err.reason);
        CHECK(ev.seq == (uint64_t)i + 1);
    }
}

static void segment_header_encodes_to_the_documented_bytes(void)
{
    annal_seg_header h = {.first_seq = 1, .created_ns = 1790812800000000000LL};
    unsigned char b[ANNAL_SEG_HEADER_SIZE];
    char hex[2 * ANNAL_SEG_HEADER_SIZE + 1];
    annal_seg_header_encode(&h, b);
    hex_of(b, sizeof(b), hex);
    CHECKF(!strcmp(hex, vec_header), "%s", hex);
    annal_seg_header d;
    const char *why;
    CHECK(annal_seg_header_decode(b, sizeof(b), &d, &why) == 0);
    CHECK(d.first_seq == 1 && d.created_ns == h.created_ns);
}

static void every_bit_flip_in_a_segment_header_is_rejected(void)
{
    annal_seg_header h = {.first_seq = 77, .created_ns = 5};
    memset(h.prev_chain, 0xab, 32);
    unsigned char b[ANNAL_SEG_HEADER_SIZE];
    annal_seg_header_encode(&h, b);
    for (size_t bit = 0; bit < sizeof(b) * 8; bit++) {
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        annal_seg_header d;
        const char *why;
        CHECKF(annal_seg_header_decode(b, sizeof(b), &d, &why) != 0, "bit %zu", bit);
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
}

static void block_header_round_trips_and_every_bit_flip_is_rejected(void)
{
    annal_block_header h = {.count = 12, .first_seq = 1001, .raw_len = 7000, .frame_len = 1500};
    memset(h.chain_end, 0x5c, 32);
    memcpy(h.frame_check, "12345678", 8);
    unsigned char b[ANNAL_BLOCK_HEADER_SIZE];
    annal_block_header_encode(&h, b);
    annal_block_header d;
    const char *why;
    CHECK(annal_block_header_decode(b, sizeof(b), &d, &why) == 0);
    CHECK(d.count == 12 && d.first_seq == 1001 && d.raw_len == 7000 && d.frame_len == 1500);
    CHECK(!memcmp(d.chain_end, h.chain_end, 32) && !memcmp(d.frame_check, "12345678", 8));
    for (size_t bit = 0; bit < sizeof(b) * 8; bit++) {
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        CHECKF(annal_block_header_decode(b, sizeof(b), &d, &why) != 0, "bit %zu", bit);
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    CHECK(annal_block_header_decode(b, sizeof(b) - 1, &d, &why) != 0);
}

static void footer_round_trips_is_found_from_the_end_and_bit_flips_are_rejected(void)
{
    annal_block_ref refs[3] = {{72, 10}, {5000, 20}, {9000, 35}};
    annal_seg_footer f = {.block_count = 3, .first_seq = 10, .record_count = 40, .raw_bytes = 26000};
    memset(f.chain_end, 0x11, 32);
    size_t size = annal_seg_footer_size(3);
    CHECK(size == ANNAL_FOOTER_FIXED + 3 * ANNAL_FOOTER_ENTRY);
    unsigned char file[200 + 200];
    memset(file, 0, sizeof(file));
    unsigned char *b = file + 200;
    annal_seg_footer_encode(&f, refs, b);
    uint64_t off = 0;
    CHECK(annal_seg_footer_locate(b + size - 8, 200 + size, &off) == 1);
    CHECK(off == 200);
    annal_seg_footer d;
    annal_block_ref *got = NULL;
    const char *why;
    CHECK(annal_seg_footer_decode(b, size, &d, &got, &why) == 0);
    CHECK(d.block_count == 3 && d.first_seq == 10 && d.record_count == 40 && d.raw_bytes == 26000);
    CHECK(got && got[2].offset == 9000 && got[2].first_seq == 35);
    free(got);
    for (size_t bit = 0; bit < size * 8; bit++) {
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        CHECKF(annal_seg_footer_decode(b, size, &d, NULL, &why) != 0, "bit %zu", bit);
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
}

static void segment_names_are_twenty_digits_and_parse_back(void)
{
    char name[ANNAL_SEG_NAME_LEN + 1];
    annal_seg_name(123, name);
    CHECK(!strcmp(name, "00000000000000000123.seg"));
    uint64_t s = 0;
    CHECK(annal_seg_name_parse(name, &s) == 1 && s == 123);
    CHECK(annal_seg_name_parse("00000000000000000000.seg", &s) == 0);
    CHECK(annal_seg_name_parse("0000000000000000012.seg", &s) == 0);
    CHECK(annal_seg_name_parse("00000000000000000123.seg.tmp", &s) == 0);
    CHECK(annal_seg_name_parse("99999999999999999999.seg", &s) == 0); /* > UINT64_MAX */
    CHECK(annal_seg_name_parse("18446744073709551615.seg", &s) == 1 && s == UINT64_MAX);
}

static void little_endian_helpers_mirror_each_other(void)
{
    unsigned char b[8];
    annal_put_u64(b, 0x0102030405060708ull);
    CHECK(b[0] == 8 && b[7] == 1);
    CHECK(annal_get_u64(b) == 0x0102030405060708ull);
    annal_put_u32(b, 0xdeadbeef);
    CHECK(b[0] == 0xef && annal_get_u32(b) == 0xdeadbeef);
    annal_put_u16(b, 0xbeef);
    CHECK(b[0] == 0xef && annal_get_u16(b) == 0xbeef);
}

int main(void)
{
    T_RUN(format_vectors_give_the_documented_leaf_and_chain_hashes);
    T_RUN(format_vector_records_are_valid_canonical_records);
    T_RUN(segment_header_encodes_to_the_documented_bytes);
    T_RUN(every_bit_flip_in_a_segment_header_is_rejected);
    T_RUN(block_header_round_trips_and_every_bit_flip_is_rejected);
    T_RUN(footer_round_trips_is_found_from_the_end_and_bit_flips_are_rejected);
    T_RUN(segment_names_are_twenty_digits_and_parse_back);
    T_RUN(little_endian_helpers_mirror_each_other);
    return t_done();
}
