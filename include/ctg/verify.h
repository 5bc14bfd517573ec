/*
 * verify.h — `ctgd --verify`: checks that a store keeps the invariants its writes promise.
 *
 * The store is opened read-only and read in one LMDB snapshot, so the check may run beside a
 * serving ctgd, and on the folder a crash (kill -9, power loss) left. What must hold:
 *   - the change log holds seqs 1..last, without a gap;
 *   - the revisions of an id are 1..n, each well-formed, their types in a possible order
 *     (created, then updated or deleted; created again only after a deletion);
 *   - the last revision of an id is its live document, byte for byte, or a deletion and then
 *     the id has no live document;
 *   - a live document parses, names its key as id, carries the rev of its header, agrees with
 *     its list summary and passes the model's checks (SPEC §2);
 *   - every index entry names a live document that has that value, and every live document is
 *     in every index entry it should be;
 *   - each change-log entry is the revision it names (same type, department and document), and
 *     the entries of an id go up one rev at a time to its last revision.
 */
#ifndef CTG_VERIFY_H
#define CTG_VERIFY_H

#include <stdint.h>
#include <stdio.h>

struct verify_counts {
    uint64_t ids;           /* ids with at least one revision, deleted ones included */
    uint64_t documents;     /* live documents */
    uint64_t revisions;
    uint64_t changes;       /* change-log entries */
    uint64_t last_seq;      /* the last seq of the change log, 0 when empty */
    uint64_t index_entries; /* over the three indexes */
    uint64_t violations;
};

/*
 * Checks the store in the folder `dir`, printing one line per violation to `out`. Returns 0
 * when the check ran to its end (then counts->violations says whether the store is sound), -1
 * when the store cannot be opened or read (why is in `err`).
 */
int verify_store(const char *dir, FILE *out, struct verify_counts *counts, char *err,
                 size_t errlen);

#endif
