/*
 * model/mpsc_ring.pml - the MPSC byte ring protocol (docs/design.md) in Promela.
 *
 * Two producers and one consumer share a ring of CAP = 4 words (a word is 8
 * bytes in the C++ code; every record and skip region is a whole number of
 * words, so nothing is lost by counting in words). Each producer sends RECS
 * records of 1, 2 or 3 payload words (chosen nondeterministically: 3 words is
 * max_payload(), a record as large as the ring) and, for each, either
 * commits it or aborts it - after writing all of the payload, or (with
 * -DPARTIAL_WRITES, as check.sh runs it) any prefix of it: a producer that
 * throws half-way. Run by check.sh; see docs/reliability.md.
 *
 * What each step corresponds to in the C++ code. Files under
 * queue/include/logbuf/queue/, line numbers as of commit 92cc95c:
 *
 *   producer (proctype producer)           C++
 *   pos = tail                             claim_space.hpp:73 tail.load() (relaxed)
 *   PLAN: padding, take, cached has_room   claim_space.hpp:75-79, ring.hpp:60 (cached head)
 *   cached = head, compare again           ring.hpp:65-66 has_room() reload (acquire)
 *   "full" -> goto try_claim               claim_space.hpp:80-81 returns errc::full; the
 *                                          caller tries again (a busy loop, like send())
 *   padding alone: take = padding          claim_space.hpp:80-83 the wrap rule
 *   d_step CAS on tail (+ ZERO_CHECK)      claim_space.hpp:85 -> 60 compare_exchange_weak
 *   W(pos) = SKIP + padding                claim_space.hpp:88 skip header (release)
 *   pos += padding; record or next round   claim_space.hpp:90-91
 *   payload words = STAMP + id             the user writing through write_claim::data()
 *   W(pos) = plen (commit)                 claims.hpp:65 write_claim::commit() (release)
 *   zero payload; W(pos) = SKIP + need     claims.hpp:74-77 write_claim::abort() (release;
 *                                          also the destructor)
 *
 *   consumer (proctype consumer)           C++
 *   h = W(r)                               ring.hpp:80 next_committed() header (acquire)
 *   skip: W(r) = 0, r += n                 ring.hpp:84-85
 *   read and check the payload             read_claim::data() / the drain() handler
 *   zero payload, then header, r += ...    ring.hpp:96-101 consume()
 *   head = r, now or later                 ring.hpp:112-117 publish() (release): on a
 *                                          release (claims.hpp), every quarter ring in
 *                                          drain() (consumer.hpp:61), or later in a batch
 *   h == 0: head = r, then wait            consumer.hpp:35 try_claim() finding nothing,
 *                                          consumer.hpp:53 drain() on its way out
 *
 * Memory model: SPIN explores interleavings under sequential consistency. The
 * C++ code uses acquire/release and relaxed atomics; that each of them is
 * strong enough (payload before header, zeroing before head, head before
 * reuse) is argued in docs/design.md ("Memory orders: what pairs with what"),
 * not here. This model checks the protocol: claims, wrap, skip, zeroing and
 * publication, in every interleaving of atomic steps. compare_exchange_weak's
 * spurious failures are not modelled: they only re-run the loop.
 *
 * Properties:
 *   safety (assertions, run 1): the claimed range is all zero when a producer
 *     takes it (nothing unconsumed is overwritten); the consumer never reads a
 *     header that is not a header or a payload that was not committed; each
 *     record arrives once, with its length and every payload word intact, in
 *     claim order per producer; when everyone has finished, every committed
 *     record was consumed, the consumer stands at the tail and the ring is all
 *     zero. The consumer may end only there; a state where it is blocked
 *     otherwise is an invalid end state (pan's deadlock check).
 *   liveness (run 2, -DNP with weak fairness): no non-progress cycle. Every
 *     claim is eventually committed or aborted, and each producer sends a
 *     bounded number of records, so every infinite run is a livelock - a
 *     producer retrying "full" for ever while the consumer waits for a record
 *     (the Rust original's wrap livelock, BUG_RUST_WRAP) - or an unfair
 *     schedule, which -f excludes. No progress labels are needed: any fair
 *     cycle is a failure.
 *
 * TURN (check.sh runs the model with and without it): producers wait the
 * way claim_waiting() does (claim_space.hpp), so a refused producer takes the
 * ring's turn. The turn is bit 63 of the C++ tail word, here `tbit` beside
 * `tail`: a producer loads both in one step, and its compare-exchange
 * compares both (the C++ CAS compares the whole word). Every record here is
 * larger than an eighth of the ring, so every waiter tries to take it.
 *   try_claim: (pos, tb) = (tail, tbit)     claim_space.hpp slow path load
 *   tb && not ours -> refused               "Another producer waits for space"
 *   refused, turn free -> tbit = 1, ours    shared_tail::take_turn() (fetch_or)
 *   CAS (pos, tb) -> (pos + take, bit)      bit kept for padding alone, cleared
 *                                           with the record (HoldsTurn)
 * Extra safety property: no producer's claim succeeds while another holds the
 * turn (ghost `holder`), i.e. nobody claims ahead of a waiting large record.
 *
 * BUG_* macros inject known mistakes; check.sh verifies that each is caught.
 */

#define CAP   4              /* ring capacity in words; a power of two */
#define MASK  (CAP - 1)
#define SKIP  8              /* skip header: SKIP + region words (1..CAP) */
#define STAMP 16             /* payload words of record id hold STAMP + id */
#ifndef RECS
#define RECS  2              /* records per producer */
#endif
#define NPROD 2
#define IDS   (NPROD * RECS + 1)   /* ids 1..NPROD*RECS; 0 unused */

/* Ghost states of a record (checker bookkeeping, not protocol). */
#define FREE      0
#define CLAIMED   1
#define COMMITTED 2
#define ABORTED   3
#define CONSUMED  4

#define W(p) buf[(p) & MASK]

byte buf[CAP];      /* the ring; 0 = uncommitted / free */
byte tail = 0;      /* free-running word positions */
byte head = 0;

#ifdef TURN
bool tbit = 0;      /* bit 63 of the tail word: a waiter holds the turn */
byte holder = 0;    /* ghost: 1 + the producer holding the turn, 0 = none */
#endif

byte st[IDS];       /* ghost: state of each record */
byte len_of[IDS];   /* ghost: payload words of each record */
byte finished = 0;  /* ghost: producers that sent all their records */

/*
 * Atomic steps. Each d_step below touches at most one shared word (or holds
 * a ghost check), so grouping it with the local computation around it hides
 * no interleaving. Two exceptions, both exact for this protocol: the consumer
 * reads and clears a header in one step (no producer writes a word the
 * consumer has not released), and a producer writes its whole payload in one
 * step (no one reads those words before the header changes; BUG_COMMIT_EARLY
 * shows the consumer does get to look in between when the header is early).
 */

/* claim_space()'s loop body for the current `pos`, local part: the padding,
 * what to take, and has_room() against the cached head (no reload yet). */
#define PLAN \
    if \
    :: need <= CAP - (pos & MASK) -> padding = 0 \
    :: else -> padding = CAP - (pos & MASK) \
    fi; \
    take = padding + need; \
    record_too = true; \
    ok = (pos + take <= cached + CAP)

/* In the claiming step itself: [pos, pos + take) reads all zero, so nothing
 * unconsumed is overwritten. */
#define ZERO_CHECK \
    i = 0; \
    do \
    :: i < take -> assert(W(pos + i) == 0); i++ \
    :: else -> break \
    od; \
    i = 0

proctype producer(byte p) {
    byte seq = 0;
    byte id, plen, need, pos, padding, take, written, i;
    byte cached = 0;            /* producer::cached_head_ */
    bool ok, record_too, won;
    bool tb = 0, mine = 0;      /* TURN: the bit as loaded; we hold the turn */

    do
    :: seq == RECS -> break
    :: seq < RECS ->
        if
        :: plen = 1
        :: plen = 2
        :: plen = CAP - 1       /* max_payload() */
        fi;
        d_step {
            id = p * RECS + seq + 1;
            need = plen + 1;    /* record_size(len): header + payload */
            len_of[id] = plen
        }

try_claim:                      /* try_claim(len) -> claim_space() */
#ifdef TURN
        atomic { pos = tail; tb = tbit; PLAN }          /* the whole tail word */
#else
        atomic { pos = tail; PLAN }                     /* tail.load(relaxed) */
#endif
claim_loop:
#ifdef TURN
        if
        :: tb && !mine -> goto refused      /* someone waits: nobody goes ahead */
        :: else
        fi;
#endif
        if
        :: ok
        :: else ->
            /* has_room(take): the cached head said no; reload (acquire). */
#ifdef BUG_STALE_HEAD
            /* Never reloads: trusts the cached head for ever. */
            d_step { ok = (pos + take <= cached + CAP) };
#else
            d_step { cached = head; ok = (pos + take <= cached + CAP) };
#endif
            if
            :: ok
            :: !ok && padding == 0 -> goto refused      /* errc::full; retry */
            :: !ok && padding != 0 ->
#ifdef BUG_RUST_WRAP
                goto refused        /* padding and record together or nothing */
#else
                /* The wrap rule: has_room(padding), cached head first. */
                if
                :: pos + padding <= cached + CAP -> ok = true
#ifdef BUG_STALE_HEAD
                :: else -> ok = false
#else
                :: else -> d_step { cached = head; ok = (pos + padding <= cached + CAP) }
#endif
                fi;
                if
                :: ok -> d_step { take = padding; record_too = false }
                :: else -> goto refused                 /* errc::full; retry */
                fi
#endif
            fi
        fi;

        /* shared_tail::try_advance: compare_exchange on the tail. */
#ifdef BUG_PLAIN_TAIL
        /* The SPSC protocol (load ... plain store) used by two producers. */
        d_step { tail = pos + take; won = true; ZERO_CHECK }
#elif defined(TURN)
        d_step {
            if
#ifdef BUG_TURN_IGNORED
            /* The compare-exchange compares the position, not the bit. */
            :: tail == pos ->
#else
            :: tail == pos && tbit == tb ->
#endif
                tail = pos + take; won = true; ZERO_CHECK;
                if
                :: mine && record_too -> tbit = 0; tb = 0; mine = 0; holder = 0
#ifdef BUG_TURN_PADDING_CLEARS
                :: mine && !record_too -> tbit = 0; tb = 0
#else
                :: mine && !record_too      /* padding alone keeps the turn */
#endif
                :: !mine -> assert(holder == 0)     /* nobody claims ahead of it */
                fi
            :: else -> pos = tail; tb = tbit; won = false; PLAN   /* lost: retry */
            fi
        }
#else
        d_step {
            if
            :: tail == pos -> tail = pos + take; won = true; ZERO_CHECK
            :: else -> pos = tail; won = false; PLAN   /* lost the race: retry */
            fi
        }
#endif
        if
        :: !won -> goto claim_loop
        :: else
        fi;
        /* Wrap padding: its skip header (release store); then either the
         * record right behind it or another round at offset 0. */
        d_step {
            if
            :: padding != 0 -> W(pos) = SKIP + padding
            :: else
            fi;
            pos = pos + padding;
            if
            :: !record_too -> PLAN; won = false     /* PLAN resets record_too */
            :: else -> st[id] = CLAIMED; padding = 0; take = 0; ok = false
            fi
        }
        if
        :: !won -> goto claim_loop
        :: else -> won = false
        fi;

        /* The claim holds [pos, pos + need). Write the payload - all of it,
         * or (PARTIAL_WRITES) any prefix if the producer throws half-way. */
#ifdef PARTIAL_WRITES
        if
        :: written = plen
        :: written = 0
        :: plen >= 2 -> written = 1
        :: plen >= 3 -> written = 2     /* plen <= CAP - 1 = 3 */
        fi;
#else
        written = plen;     /* abort() zeroes the whole payload either way */
#endif
#ifdef BUG_COMMIT_EARLY
        /* The header published before the payload is written. */
        d_step { W(pos) = plen; st[id] = COMMITTED; written = plen }
#endif
        d_step {
            i = 1;
            do
            :: i <= written -> W(pos + i) = STAMP + id; i++
            :: else -> break
            od;
            i = 0
        }
        if
#ifndef BUG_COMMIT_EARLY
        :: written == plen ->           /* write_claim::commit(): release store */
            d_step { W(pos) = plen; st[id] = COMMITTED }
        :: true ->                      /* write_claim::abort() / destructor */
            d_step {
#ifndef BUG_ABORT_NO_ZERO
                i = 1;
                do
                :: i <= plen -> W(pos + i) = 0; i++
                :: else -> break
                od;
#endif
                W(pos) = SKIP + need; st[id] = ABORTED
            }
#else
        :: true
#endif
        fi;
        d_step { seq++; i = 0; pos = 0; plen = 0; need = 0; written = 0; record_too = false }
        goto next_record;

refused:                        /* errc::full: the caller tries again */
        skip;
#ifdef TURN
        /* claim_waiting(): a refused large waiter takes the turn if free. */
        d_step {
            if
            :: !mine && !tbit -> tbit = 1; mine = 1; holder = p + 1
            :: else
            fi
        }
#endif
        goto try_claim;
next_record:
        skip
    od;
    finished++
}

proctype consumer() {
    byte r = 0;             /* ring::read_position_ */
    byte h, id, i;
    byte last[NPROD];       /* ghost: last id seen per producer */

    do
    :: d_step {
            h = W(r);       /* next_committed(): acquire-load the header */
            if
            :: h > SKIP && h <= SKIP + CAP ->
                /* A skip region: its body is zero; clear the header, pass it. */
#ifndef BUG_SKIP_NO_CLEAR
                W(r) = 0;
#endif
                r = r + h - SKIP; h = 0
            :: h >= 1 && h < CAP ->
                /* A committed record: what the read claim / drain handler sees. */
                id = W(r + 1) - STAMP;
                assert(id >= 1 && id < IDS);
                assert(st[id] == COMMITTED);        /* committed, and only once */
                assert(len_of[id] == h);
                i = 1;
                do
                :: i <= h -> assert(W(r + i) == STAMP + id); i++
                :: else -> break
                od;
                /* claim order per producer: a producer's ids increase */
                assert(id > last[(id - 1) / RECS]);
                last[(id - 1) / RECS] = id;
                st[id] = CONSUMED;
                id = 0;
                i = 0
            :: h == 0
            :: else -> assert(false)    /* not a header: a payload word or garbage */
            fi
        }
        if
        :: h == 0 ->
            /* Nothing committed here: try_claim() and drain() publish what
             * they passed (ring::publish(): release store), then the caller
             * waits for the next header. */
#ifndef BUG_NO_PUBLISH_ON_EMPTY
            if
            :: head != r -> head = r
            :: else
            fi;
#endif
            if
            :: W(r) != 0
            :: finished == NPROD && W(r) == 0 -> break
            fi
        :: h != 0 ->
#ifdef BUG_PUBLISH_EARLY
            head = r + h + 1;
#endif
            /* ring::consume(): zero payload, then header, move on. */
            d_step {
                i = 1;
                do
                :: i <= h -> W(r + i) = 0; i++
                :: else -> break
                od;
                W(r) = 0; r = r + h + 1; i = 0; h = 0
            }
            /* publish() now (a read claim's release; drain() every quarter
             * ring) or later (the rest of a drain batch, or the next read). */
            if
            :: head = r
            :: skip
            fi
        fi
    od;

    /* Everyone finished and the consumer stands on an uncommitted word:
     * nothing is left behind and the ring is clean for the next lap. */
    atomic {
        assert(r == tail);
        i = 1;
        do
        :: i < IDS -> assert(st[i] == CONSUMED || st[i] == ABORTED); i++
        :: else -> break
        od;
        i = 0;
        do
        :: i < CAP -> assert(buf[i] == 0); i++
        :: else -> break
        od
    }
}

init {
    atomic {
        run producer(0);
        run producer(1);
        run consumer()
    }
}
